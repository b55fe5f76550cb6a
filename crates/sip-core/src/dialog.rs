//! Dialogs (RFC 3261 §12): identity, route set, remote target and CSeq
//! state for both sides, and building requests inside a dialog.
//!
//! A [`Dialog`] is plain data plus rules; it never sends anything. The
//! call actor keeps one per leg, builds in-dialog requests with
//! [`Dialog::request`] and feeds what arrives through
//! [`Dialog::on_request`] / [`Dialog::on_response`].
//!
//! ```
//! use bytes::Bytes;
//! use sip_core::dialog::Dialog;
//! use sip_core::Message;
//! let invite = Message::parse(Bytes::from_static(b"INVITE sip:5000@10.0.0.1 SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nRecord-Route: <sip:sbc.example.com;lr>\r\n\
//! From: <sip:+15551234@carrier>;tag=c1\r\nTo: <sip:5000@10.0.0.1>\r\nCall-ID: abc\r\n\
//! CSeq: 10 INVITE\r\nContact: <sip:+15551234@192.0.2.1:5060>\r\nContent-Length: 0\r\n\r\n")).unwrap();
//! let mut d = Dialog::uas(&invite, "ours").unwrap();
//! let bye = d.request("BYE", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbye").build(None);
//! let bye = Message::parse(Bytes::from(bye)).unwrap();
//! assert_eq!(bye.request_uri_str(), Some("sip:+15551234@192.0.2.1:5060"));
//! assert_eq!(bye.header(sip_core::HeaderName::Route), Some("<sip:sbc.example.com;lr>"));
//! assert_eq!(bye.to().tag(), Some("c1"));
//! assert_eq!(bye.from().tag(), Some("ours"));
//! ```

pub mod info;
pub mod offer_answer;
pub mod refer;
pub mod reliable;
pub mod session_timer;

use crate::builder::RequestBuilder;
use crate::header::HeaderName;
use crate::message::Message;
use crate::method::Method;
use crate::name_addr::NameAddr;

/// Why an in-dialog message was refused; [`DialogError::status`] is the
/// response to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// The request names a dialog that does not exist (or another one).
    #[error("no such dialog")]
    UnknownDialog,
    /// CSeq lower than the last one received (RFC 3261 §12.2.2).
    #[error("CSeq is lower than the remote sequence number")]
    OutOfOrder,
    /// A dialog-creating message without a usable Contact.
    #[error("missing or malformed Contact")]
    BadContact,
    /// A dialog-creating message without the tag it needs.
    #[error("missing dialog tag")]
    MissingTag,
    /// A re-INVITE arrived while ours is pending: glare (RFC 3261 §14.2).
    #[error("our INVITE is pending (glare)")]
    RequestPending,
    /// A re-INVITE arrived while the peer's previous INVITE is unanswered
    /// (§14.2): answer 500 with a Retry-After of 0–10 s.
    #[error("the previous INVITE is still in progress")]
    InviteInProgress,
}

impl DialogError {
    pub fn status(&self) -> u16 {
        match self {
            DialogError::UnknownDialog => 481,
            DialogError::OutOfOrder => 500,
            DialogError::BadContact | DialogError::MissingTag => 400,
            DialogError::RequestPending => 491,
            DialogError::InviteInProgress => 500,
        }
    }
}

/// Call-ID plus both tags (RFC 3261 §12), from this side's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog an incoming request belongs to, as seen by its receiver
    /// (local tag = To tag). `None` when the To has no tag: the request is
    /// outside any dialog.
    pub fn of_incoming_request(msg: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: msg.call_id().to_string(),
            local_tag: msg.to().tag()?.to_string(),
            remote_tag: msg.from().tag().unwrap_or_default().to_string(),
        })
    }

    /// The dialog a response to one of our requests belongs to (local tag =
    /// From tag, remote tag = To tag). `None` without a To tag (100 Trying).
    pub fn of_response(msg: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: msg.call_id().to_string(),
            local_tag: msg.from().tag()?.to_string(),
            remote_tag: msg.to().tag()?.to_string(),
        })
    }
}

/// True for a request sent within a dialog (its To carries a tag): a UAS
/// that finds no such dialog answers 481 (RFC 3261 §12.2.2).
pub fn is_in_dialog(msg: &Message) -> bool {
    msg.is_request() && msg.to().tag().is_some()
}

/// Dialog state (RFC 3261 §12): early on a provisional with a To tag,
/// confirmed on a 2xx, terminated by a final failure, BYE, 481 or 408.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// Which side created the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogRole {
    Uac,
    Uas,
}

/// One dialog's state (RFC 3261 §12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub role: DialogRole,
    pub state: DialogState,
    /// Our CSeq for the last request we sent; `None` until we send one.
    pub local_seq: Option<u32>,
    /// The peer's last CSeq; `None` until it sends one.
    pub remote_seq: Option<u32>,
    /// Our From/To value in requests we send, with our tag.
    pub local: String,
    /// The peer's From/To value, with its tag.
    pub remote: String,
    /// Where requests go: the peer's Contact URI.
    pub remote_target: String,
    /// Route entries as `name-addr` text, in the order to put in Route.
    pub route_set: Vec<String>,
    /// The dialog was created by a `sips:` request over TLS.
    pub secure: bool,
    /// CSeq of our INVITE awaiting its final response.
    pub invite_out: Option<u32>,
    /// CSeq of the peer's INVITE we have not answered finally yet.
    pub invite_in: Option<u32>,
}

fn contact_uri(msg: &Message) -> Result<String, DialogError> {
    let c = msg.contact().ok_or(DialogError::BadContact)?;
    if c.star || c.uri_text.is_empty() {
        return Err(DialogError::BadContact);
    }
    Ok(c.uri_text.to_string())
}

fn record_route(msg: &Message) -> Vec<String> {
    msg.list(HeaderName::RecordRoute)
        .map(|r| r.trim().to_string())
        .collect()
}

fn with_tag(value: &str, tag: &str) -> String {
    match NameAddr::parse(value, "To") {
        Ok(na) if na.tag().is_some() => value.to_string(),
        _ => format!("{value};tag={tag}"),
    }
}

impl Dialog {
    /// The UAS side, from a dialog-creating request (INVITE, SUBSCRIBE,
    /// REFER) and the To tag we put in our responses (§12.1.1). The dialog
    /// starts early; call [`Dialog::confirm`] when the 2xx is sent.
    pub fn uas(request: &Message, local_tag: &str) -> Result<Dialog, DialogError> {
        let remote_tag = request.from().tag().ok_or(DialogError::MissingTag)?;
        let remote_target = contact_uri(request)?;
        Ok(Dialog::new_uas(
            request,
            local_tag,
            remote_tag,
            remote_target,
        ))
    }

    /// [`Dialog::uas`] for a peer that may predate RFC 3261 (§12.1.1, RFC
    /// 4475 §3.4.1): a From without a tag is a null (empty) remote tag, and
    /// a request without a usable Contact gets `fallback_target` (say, its
    /// From URI) as the remote target. Never fails.
    pub fn uas_compat(request: &Message, local_tag: &str, fallback_target: &str) -> Dialog {
        let remote_tag = request.from().tag().unwrap_or_default();
        let remote_target = contact_uri(request).unwrap_or_else(|_| fallback_target.to_string());
        Dialog::new_uas(request, local_tag, remote_tag, remote_target)
    }

    fn new_uas(
        request: &Message,
        local_tag: &str,
        remote_tag: &str,
        remote_target: String,
    ) -> Dialog {
        Dialog {
            id: DialogId {
                call_id: request.call_id().to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: remote_tag.to_string(),
            },
            role: DialogRole::Uas,
            state: DialogState::Early,
            local_seq: None,
            remote_seq: Some(request.cseq().seq),
            local: with_tag(request.to_str_raw(), local_tag),
            remote: request.from_str_raw().to_string(),
            remote_target,
            route_set: record_route(request),
            secure: request
                .request_uri_str()
                .is_some_and(|u| u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:")),
            invite_in: (request.method() == Some(Method::Invite)).then(|| request.cseq().seq),
            invite_out: None,
        }
    }

    /// The UAC side, from the request we sent and a provisional (with To
    /// tag) or 2xx response to it (§12.1.2). The route set is the
    /// response's Record-Route in reverse.
    pub fn uac(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let local_tag = request.from().tag().ok_or(DialogError::MissingTag)?;
        let remote_tag = response.to().tag().ok_or(DialogError::MissingTag)?;
        let remote_target = contact_uri(response)?;
        Ok(Dialog::new_uac(
            request,
            response,
            (local_tag, remote_tag),
            remote_target,
        ))
    }

    /// [`Dialog::uac`] for a peer that may predate RFC 3261 (§12.1.2): a
    /// response without a To tag is a null (empty) remote tag, and one
    /// without a usable Contact keeps `fallback_target` (say, the request's
    /// Request-URI) as the remote target. Never fails.
    pub fn uac_compat(request: &Message, response: &Message, fallback_target: &str) -> Dialog {
        let local_tag = request.from().tag().unwrap_or_default();
        let remote_tag = response.to().tag().unwrap_or_default();
        let remote_target = contact_uri(response).unwrap_or_else(|_| fallback_target.to_string());
        Dialog::new_uac(request, response, (local_tag, remote_tag), remote_target)
    }

    fn new_uac(
        request: &Message,
        response: &Message,
        (local_tag, remote_tag): (&str, &str),
        remote_target: String,
    ) -> Dialog {
        let status = response.status().unwrap_or(0);
        let mut route_set = record_route(response);
        route_set.reverse();
        Dialog {
            id: DialogId {
                call_id: request.call_id().to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: remote_tag.to_string(),
            },
            role: DialogRole::Uac,
            state: if (200..300).contains(&status) {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: Some(request.cseq().seq),
            remote_seq: None,
            local: request.from_str_raw().to_string(),
            remote: response.to_str_raw().to_string(),
            remote_target,
            route_set,
            secure: request
                .request_uri_str()
                .is_some_and(|u| u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:")),
            invite_out: (request.method() == Some(Method::Invite) && status < 200)
                .then(|| request.cseq().seq),
            invite_in: None,
        }
    }

    /// The 2xx was sent (UAS) or received (UAC).
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    /// We sent a response to the peer's request with CSeq `seq`. A final
    /// response to its INVITE ends that INVITE (so another may come); a
    /// 2xx confirms the dialog.
    pub fn response_sent(&mut self, method: Method, seq: u32, status: u16) {
        if method == Method::Invite && status >= 200 && self.invite_in == Some(seq) {
            self.invite_in = None;
        }
        if (200..300).contains(&status) && method == Method::Invite {
            self.confirm();
        }
    }

    /// True when we may send a re-INVITE now (no INVITE pending either way,
    /// RFC 3261 §14.1).
    pub fn can_reinvite(&self) -> bool {
        self.invite_out.is_none()
            && self.invite_in.is_none()
            && self.state == DialogState::Confirmed
    }

    /// How long to wait before retrying a re-INVITE that got 491 (§14.1):
    /// 2.1–4 s if we own the Call-ID (we created the dialog as UAC), else
    /// 0–2 s, in 10 ms steps. `random` is any random number.
    pub fn glare_retry_after(&self, random: u32) -> std::time::Duration {
        let ms = match self.role {
            DialogRole::Uac => 2100 + (random % 191) * 10,
            DialogRole::Uas => (random % 201) * 10,
        };
        std::time::Duration::from_millis(u64::from(ms))
    }

    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// True when an incoming request belongs to this dialog.
    pub fn matches_request(&self, msg: &Message) -> bool {
        DialogId::of_incoming_request(msg).is_some_and(|id| id == self.id)
    }

    /// Checks an incoming in-dialog request and updates the dialog (§12.2.2):
    /// CSeq must not go backwards (ACK and CANCEL reuse their INVITE's), a
    /// target refresh (re-INVITE, UPDATE, SUBSCRIBE, NOTIFY, REFER) with a
    /// Contact replaces the remote target, and BYE terminates the dialog.
    pub fn on_request(&mut self, msg: &Message) -> Result<(), DialogError> {
        if !self.matches_request(msg) || self.state == DialogState::Terminated {
            return Err(DialogError::UnknownDialog);
        }
        let method = msg.method().unwrap_or(Method::Other);
        if !matches!(method, Method::Ack | Method::Cancel) {
            let seq = msg.cseq().seq;
            if self.remote_seq.is_some_and(|r| seq < r) {
                return Err(DialogError::OutOfOrder);
            }
            self.remote_seq = Some(seq);
        }
        if method == Method::Invite {
            if self.invite_out.is_some() {
                return Err(DialogError::RequestPending);
            }
            if self.invite_in.is_some() {
                return Err(DialogError::InviteInProgress);
            }
            self.invite_in = Some(msg.cseq().seq);
        }
        if is_target_refresh(method) {
            if let Ok(target) = contact_uri(msg) {
                self.remote_target = target;
            }
        }
        if method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// Updates the dialog from a response to a request we sent in it (or to
    /// the request that created it): a 2xx confirms an early dialog and, for
    /// the initial INVITE, fixes the route set from the 2xx (§13.2.2.4); a
    /// 2xx to a target refresh updates the remote target; 481 and 408
    /// terminate the dialog (§12.2.1.2), as does any failure to the
    /// dialog-creating request while early.
    pub fn on_response(&mut self, msg: &Message) {
        let Some(status) = msg.status() else { return };
        let method = msg.cseq().method;
        if status >= 200 && method == Method::Invite && self.invite_out == Some(msg.cseq().seq) {
            self.invite_out = None;
        }
        if (200..300).contains(&status) {
            if self.state == DialogState::Early && self.role == DialogRole::Uac {
                let mut routes = record_route(msg);
                routes.reverse();
                self.route_set = routes;
            }
            self.confirm();
            if is_target_refresh(method) {
                if let Ok(target) = contact_uri(msg) {
                    self.remote_target = target;
                }
            }
        } else if status == 481
            || status == 408
            || (status >= 300 && self.state == DialogState::Early && method == Method::Invite)
        {
            self.terminate();
        } else if (101..200).contains(&status) && self.state == DialogState::Early {
            if let Ok(target) = contact_uri(msg) {
                self.remote_target = target;
            }
        }
    }

    /// The next CSeq number for a new request (§12.2.1.1).
    pub fn next_seq(&mut self) -> u32 {
        let next = match self.local_seq {
            Some(s) => s.wrapping_add(1) & 0x7fff_ffff,
            None => 1,
        };
        self.local_seq = Some(next);
        next
    }

    /// The URI the next request must be sent towards (first route, or the
    /// remote target without a route set); resolve it per RFC 3263.
    pub fn next_hop(&self) -> &str {
        match self.route_set.first() {
            Some(r) => route_uri(r),
            None => &self.remote_target,
        }
    }

    /// Starts an in-dialog request (§12.2.1.1): Request-URI and Route per
    /// loose or strict routing, Via as given, Max-Forwards, From, To,
    /// Call-ID and a new CSeq. Add Contact, other headers and the body to
    /// the returned builder. For an ACK to a 2xx use [`Dialog::ack`].
    pub fn request(&mut self, method: &str, via: &str) -> RequestBuilder {
        let seq = self.next_seq();
        if method == "INVITE" {
            self.invite_out = Some(seq);
        }
        self.start(method, via, seq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4):
    /// same CSeq number, method ACK, and a Via with a new branch.
    pub fn ack(&self, invite_seq: u32, via: &str) -> RequestBuilder {
        self.start("ACK", via, invite_seq)
    }

    fn start(&self, method: &str, via: &str, seq: u32) -> RequestBuilder {
        let strict = self.route_set.first().is_some_and(|r| !route_is_loose(r));
        let (ruri, routes): (&str, Vec<String>) = if strict {
            let mut routes: Vec<String> = self.route_set[1..].to_vec();
            routes.push(format!("<{}>", self.remote_target));
            (route_uri(&self.route_set[0]), routes)
        } else {
            (&self.remote_target, self.route_set.clone())
        };
        let mut b = RequestBuilder::new(method, ruri)
            .header("Via", via)
            .header("Max-Forwards", 70)
            .header("From", &self.local)
            .header("To", &self.remote)
            .header("Call-ID", &self.id.call_id)
            .header("CSeq", format!("{seq} {method}"));
        for r in routes {
            b = b.header("Route", r);
        }
        b
    }
}

fn is_target_refresh(method: Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

/// The URI inside a route entry (`<sip:p;lr>;param` → `sip:p;lr`).
fn route_uri(entry: &str) -> &str {
    match NameAddr::parse(entry, "Route") {
        Ok(na) => na.uri_text,
        Err(_) => entry.trim().trim_start_matches('<').trim_end_matches('>'),
    }
}

fn route_is_loose(entry: &str) -> bool {
    NameAddr::parse(entry, "Route")
        .ok()
        .and_then(|na| na.uri())
        .is_some_and(|u| u.params.has("lr"))
}

/// The CANCEL for an INVITE we sent (RFC 3261 §9.1): same Request-URI,
/// top Via (hence branch), Call-ID, From, To, CSeq number and Route.
pub fn cancel_for(invite: &Message) -> Vec<u8> {
    let mut b = RequestBuilder::new("CANCEL", invite.request_uri_str().unwrap_or_default())
        .header("Via", invite.top_via_str())
        .header("Max-Forwards", 70)
        .header("From", invite.from_str_raw())
        .header("To", invite.to_str_raw())
        .header("Call-ID", invite.call_id())
        .header("CSeq", format!("{} CANCEL", invite.cseq().seq));
    for r in invite.headers(HeaderName::Route) {
        b = b.header("Route", r);
    }
    b.build(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(s: &str) -> Message {
        let text = if s.contains("\r\n") {
            s.to_string()
        } else {
            s.replace('\n', "\r\n")
        };
        Message::parse(Bytes::from(text)).unwrap()
    }

    const INVITE: &str = "INVITE sip:agent@10.0.0.9 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinv
Max-Forwards: 70
From: \"Queue\" <sip:queue@10.0.0.1>;tag=ours
To: <sip:agent@10.0.0.9>
Call-ID: leg-b
CSeq: 100 INVITE
Contact: <sip:sb@10.0.0.1>
Content-Length: 0

";

    fn ok_with(rr: &str, contact: &str, status: u16) -> Message {
        msg(&format!(
            "SIP/2.0 {status} X
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKinv
{rr}From: \"Queue\" <sip:queue@10.0.0.1>;tag=ours
To: <sip:agent@10.0.0.9>;tag=theirs
Call-ID: leg-b
CSeq: 100 INVITE
Contact: <{contact}>
Content-Length: 0

"
        ))
    }

    #[test]
    fn uac_route_set_is_reversed_and_requests_use_loose_routing() {
        let inv = msg(INVITE);
        let ok = ok_with(
            "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\n",
            "sip:agent@10.0.0.9:5062",
            200,
        );
        let mut d = Dialog::uac(&inv, &ok).unwrap();
        assert_eq!(d.state, DialogState::Confirmed);
        assert_eq!(
            d.route_set,
            vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(d.next_hop(), "sip:p1.example.com;lr");
        let bye = msg(&String::from_utf8(
            d.request("BYE", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbye")
                .build(None),
        )
        .unwrap());
        assert_eq!(bye.request_uri_str(), Some("sip:agent@10.0.0.9:5062"));
        let routes: Vec<_> = bye.headers(HeaderName::Route).collect();
        assert_eq!(
            routes,
            vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(bye.cseq().seq, 101);
        assert_eq!(bye.from().tag(), Some("ours"));
        assert_eq!(bye.to().tag(), Some("theirs"));
        // ACK for the 2xx keeps the INVITE's CSeq number.
        let ack = msg(&String::from_utf8(
            d.ack(100, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKack")
                .build(None),
        )
        .unwrap());
        assert_eq!((ack.cseq().seq, ack.cseq().method_str), (100, "ACK"));
        assert_eq!(DialogId::of_response(&ok), Some(d.id.clone()));
    }

    #[test]
    fn strict_router_goes_in_the_request_uri() {
        let inv = msg(INVITE);
        let ok = ok_with(
            "Record-Route: <sip:loose.example.com;lr>\nRecord-Route: <sip:strict.example.com>\n",
            "sip:agent@10.0.0.9",
            200,
        );
        let mut d = Dialog::uac(&inv, &ok).unwrap();
        let req = msg(&String::from_utf8(
            d.request("INFO", "SIP/2.0/UDP h;branch=z9hG4bKx")
                .build(None),
        )
        .unwrap());
        assert_eq!(req.request_uri_str(), Some("sip:strict.example.com"));
        let routes: Vec<_> = req.headers(HeaderName::Route).collect();
        assert_eq!(
            routes,
            vec!["<sip:loose.example.com;lr>", "<sip:agent@10.0.0.9>"]
        );
    }

    #[test]
    fn early_dialog_confirms_and_takes_the_2xx_route_set() {
        let inv = msg(INVITE);
        let ringing = ok_with("Record-Route: <sip:old;lr>\n", "sip:early@10.0.0.9", 180);
        let mut d = Dialog::uac(&inv, &ringing).unwrap();
        assert_eq!(d.state, DialogState::Early);
        d.on_response(&ok_with(
            "Record-Route: <sip:new;lr>\n",
            "sip:final@10.0.0.9",
            200,
        ));
        assert_eq!(d.state, DialogState::Confirmed);
        assert_eq!(d.route_set, vec!["<sip:new;lr>"]);
        assert_eq!(d.remote_target, "sip:final@10.0.0.9");
        // 481 to an in-dialog request ends it.
        d.on_response(&ok_with("", "sip:x@y", 481));
        assert_eq!(d.state, DialogState::Terminated);

        let mut e = Dialog::uac(&inv, &ringing).unwrap();
        e.on_response(&ok_with("", "sip:x@y", 486));
        assert_eq!(e.state, DialogState::Terminated);
    }

    #[test]
    fn uas_cseq_rules_target_refresh_and_bye() {
        let caller = msg("INVITE sip:5000@10.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
Record-Route: <sip:sbc1;lr>, <sip:sbc2;lr>
From: <sip:+1555@carrier>;tag=c1
To: <sip:5000@10.0.0.1>
Call-ID: leg-a
CSeq: 10 INVITE
Contact: <sip:+1555@192.0.2.1>
Content-Length: 0

");
        let mut d = Dialog::uas(&caller, "sb1").unwrap();
        assert_eq!(d.route_set, vec!["<sip:sbc1;lr>", "<sip:sbc2;lr>"]);
        assert_eq!(d.local, "<sip:5000@10.0.0.1>;tag=sb1");
        assert_eq!(d.state, DialogState::Early);
        assert_eq!(d.invite_in, Some(10));
        d.response_sent(Method::Invite, 10, 200);
        assert_eq!(d.state, DialogState::Confirmed);
        let in_dialog = |method: &str, seq: u32, contact: &str| {
            msg(&format!(
                "{method} sip:5000@10.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{seq}
From: <sip:+1555@carrier>;tag=c1
To: <sip:5000@10.0.0.1>;tag=sb1
Call-ID: leg-a
CSeq: {seq} {method}
{contact}Content-Length: 0

"
            ))
        };
        let reinvite = in_dialog("INVITE", 11, "Contact: <sip:+1555@192.0.2.2>\n");
        assert!(is_in_dialog(&reinvite));
        assert!(d.on_request(&reinvite).is_ok());
        assert_eq!(d.remote_target, "sip:+1555@192.0.2.2");
        // A second re-INVITE before we answered the first: 500 (§14.2).
        let again = in_dialog("INVITE", 12, "");
        assert_eq!(d.on_request(&again), Err(DialogError::InviteInProgress));
        d.response_sent(Method::Invite, 11, 200);
        assert!(d.can_reinvite());
        // ACK reuses the INVITE CSeq.
        assert!(d.on_request(&in_dialog("ACK", 11, "")).is_ok());
        let old = in_dialog("INFO", 9, "");
        assert_eq!(d.on_request(&old), Err(DialogError::OutOfOrder));
        assert_eq!(DialogError::OutOfOrder.status(), 500);
        // Another dialog's request: 481.
        let other = msg(
            &String::from_utf8(in_dialog("BYE", 12, "").as_bytes().to_vec())
                .unwrap()
                .replace("tag=sb1", "tag=zzz"),
        );
        assert_eq!(d.on_request(&other).unwrap_err().status(), 481);
        assert!(d.on_request(&in_dialog("BYE", 12, "")).is_ok());
        assert_eq!(d.state, DialogState::Terminated);
        assert_eq!(
            d.on_request(&in_dialog("INFO", 13, "")),
            Err(DialogError::UnknownDialog)
        );
        // Our first request from the UAS side starts at CSeq 1.
        let mut d2 = Dialog::uas(&caller, "sb1").unwrap();
        let bye = msg(&String::from_utf8(
            d2.request("BYE", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb")
                .build(None),
        )
        .unwrap());
        assert_eq!(bye.cseq().seq, 1);
        assert_eq!(bye.request_uri_str(), Some("sip:+1555@192.0.2.1"));
        assert_eq!(
            bye.headers(HeaderName::Route).collect::<Vec<_>>(),
            vec!["<sip:sbc1;lr>", "<sip:sbc2;lr>"]
        );
    }

    #[test]
    fn dialog_creation_needs_contact_and_tags() {
        let no_contact = msg(&INVITE.replace("Contact: <sip:sb@10.0.0.1>\n", ""));
        assert_eq!(
            Dialog::uas(&no_contact, "t").unwrap_err(),
            DialogError::BadContact
        );
        let no_tag = msg(&INVITE.replace(";tag=ours", ""));
        assert_eq!(Dialog::uas(&no_tag, "t").unwrap_err().status(), 400);
        assert!(!is_in_dialog(&msg(INVITE)));
    }

    #[test]
    fn compat_dialogs_take_null_tags_and_a_fallback_target() {
        // RFC 2543 style: no From tag, no Contact (RFC 4475 §3.4.1).
        let old = msg(&INVITE
            .replace(";tag=ours", "")
            .replace("Contact: <sip:sb@10.0.0.1>\n", ""));
        let mut d = Dialog::uas_compat(&old, "sb1", "sip:queue@10.0.0.1");
        assert_eq!(d.id.remote_tag, "");
        assert_eq!(d.remote_target, "sip:queue@10.0.0.1");
        d.response_sent(Method::Invite, 100, 200);
        let bye = msg("BYE sip:agent@10.0.0.9 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKold
From: \"Queue\" <sip:queue@10.0.0.1>
To: <sip:agent@10.0.0.9>;tag=sb1
Call-ID: leg-b
CSeq: 101 BYE
Content-Length: 0

");
        assert!(d.on_request(&bye).is_ok(), "a null tag matches a null tag");
        // With tags and a Contact the compat constructors equal the strict ones.
        let inv = msg(INVITE);
        assert_eq!(
            Dialog::uas_compat(&inv, "x", "sip:unused"),
            Dialog::uas(&inv, "x").unwrap()
        );
        let ok = ok_with("Record-Route: <sip:p1;lr>\n", "sip:agent@10.0.0.9", 200);
        assert_eq!(
            Dialog::uac_compat(&inv, &ok, "sip:unused"),
            Dialog::uac(&inv, &ok).unwrap()
        );
        // A 2xx without To tag or Contact.
        let bare = msg(&String::from_utf8(crate::ResponseBuilder::new(&inv, 200).build()).unwrap());
        assert_eq!(
            Dialog::uac(&inv, &bare).unwrap_err(),
            DialogError::MissingTag
        );
        let d = Dialog::uac_compat(&inv, &bare, "sip:agent@10.0.0.9");
        assert_eq!(
            (d.id.remote_tag.as_str(), d.state),
            ("", DialogState::Confirmed)
        );
        assert_eq!(d.remote_target, "sip:agent@10.0.0.9");
    }

    #[test]
    fn reinvite_glare_is_491_and_retry_times_follow_call_id_ownership() {
        let inv = msg(INVITE);
        let mut d = Dialog::uac(&inv, &ok_with("", "sip:agent@10.0.0.9", 200)).unwrap();
        assert_eq!(d.invite_out, None);
        assert!(d.can_reinvite());
        let hold = d
            .request("INVITE", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKh")
            .build(None);
        let hold = msg(&String::from_utf8(hold).unwrap());
        assert_eq!(d.invite_out, Some(101));
        assert!(!d.can_reinvite());
        // Their re-INVITE crosses ours.
        let theirs = msg("INVITE sip:queue@10.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKt
From: <sip:agent@10.0.0.9>;tag=theirs
To: \"Queue\" <sip:queue@10.0.0.1>;tag=ours
Call-ID: leg-b
CSeq: 5 INVITE
Content-Length: 0

");
        let e = d.on_request(&theirs).unwrap_err();
        assert_eq!((e, e.status()), (DialogError::RequestPending, 491));
        // Our INVITE gets 491 too; it is no longer pending.
        let glare =
            msg(&String::from_utf8(crate::ResponseBuilder::new(&hold, 491).build()).unwrap());
        d.on_response(&glare);
        assert_eq!(d.invite_out, None);
        assert_eq!(d.state, DialogState::Confirmed);
        // We created the dialog (own the Call-ID): 2.1-4 s.
        for r in [0, 7, 190, 191, u32::MAX] {
            let t = d.glare_retry_after(r).as_millis();
            assert!((2100..=4000).contains(&t), "{t}");
        }
        let uas = Dialog::uas(&msg(INVITE), "x").unwrap();
        assert!(uas.glare_retry_after(u32::MAX).as_millis() <= 2000);
    }

    #[test]
    fn cancel_copies_the_invite_identity() {
        let inv = msg(&INVITE.replace("Max-Forwards: 70\n", "Route: <sip:p1;lr>\n"));
        let c = msg(&String::from_utf8(cancel_for(&inv)).unwrap());
        assert_eq!(c.method(), Some(Method::Cancel));
        assert_eq!(c.request_uri_str(), inv.request_uri_str());
        assert_eq!(c.top_via_str(), inv.top_via_str());
        assert_eq!((c.cseq().seq, c.cseq().method_str), (100, "CANCEL"));
        assert_eq!(c.header(HeaderName::Route), Some("<sip:p1;lr>"));
        assert_eq!(c.to().tag(), None);
    }
}
