//! Transfer at the protocol level: REFER (RFC 3515) with `Refer-To`,
//! `Replaces` (RFC 3891) for attended transfer, and the `message/sipfrag`
//! bodies of the NOTIFYs that report progress.

use std::fmt;

use crate::builder::reason_phrase;
use crate::header::HeaderName;
use crate::message::Message;
use crate::name_addr::NameAddr;
use crate::uri::percent_decode;

use super::{Dialog, DialogRole, DialogState};

/// `Replaces: <call-id>;to-tag=..;from-tag=..[;early-only]` (RFC 3891 §6.1).
/// The tags are seen from the UA receiving it: `to-tag` is its local tag,
/// `from-tag` its remote tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    pub early_only: bool,
}

impl Replaces {
    pub fn parse(v: &str) -> Option<Replaces> {
        let mut parts = v.split(';');
        let call_id = parts.next()?.trim();
        if call_id.is_empty() || call_id.contains(char::is_whitespace) {
            return None;
        }
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for p in parts {
            let p = p.trim();
            match p.split_once('=') {
                Some((n, v)) if n.trim().eq_ignore_ascii_case("to-tag") => {
                    to_tag = Some(v.trim().to_string())
                }
                Some((n, v)) if n.trim().eq_ignore_ascii_case("from-tag") => {
                    from_tag = Some(v.trim().to_string())
                }
                None if p.eq_ignore_ascii_case("early-only") => early_only = true,
                _ => {}
            }
        }
        Some(Replaces {
            call_id: call_id.to_string(),
            to_tag: to_tag?,
            from_tag: from_tag?,
            early_only,
        })
    }

    /// The request's `Replaces`. `Err(400)` when there are several or it is
    /// malformed (RFC 3891 §3).
    pub fn of(msg: &Message) -> Result<Option<Replaces>, u16> {
        let mut it = msg.headers_named("Replaces");
        let Some(first) = it.next() else {
            return Ok(None);
        };
        if it.next().is_some() {
            return Err(400);
        }
        Replaces::parse(first).map(Some).ok_or(400)
    }

    /// The Replaces that names `dialog` (ours) for the UA at its other end —
    /// what we put in a Refer-To for an attended transfer.
    pub fn for_peer_of(dialog: &Dialog) -> Replaces {
        Replaces {
            call_id: dialog.id.call_id.clone(),
            to_tag: dialog.id.remote_tag.clone(),
            from_tag: dialog.id.local_tag.clone(),
            early_only: false,
        }
    }

    /// True when this names `dialog` from our side.
    pub fn matches(&self, dialog: &Dialog) -> bool {
        self.call_id == dialog.id.call_id
            && self.to_tag == dialog.id.local_tag
            && self.from_tag == dialog.id.remote_tag
    }

    /// RFC 3891 §3 checks once the matching dialog (if any) is found:
    /// `Err(481)` no such dialog, or an early dialog we did not initiate;
    /// `Err(603)` it already ended; `Err(486)` `early-only` but confirmed.
    pub fn check(&self, dialog: Option<&Dialog>) -> Result<(), u16> {
        let d = match dialog {
            Some(d) if self.matches(d) => d,
            _ => return Err(481),
        };
        match d.state {
            DialogState::Terminated => Err(603),
            DialogState::Confirmed if self.early_only => Err(486),
            DialogState::Early if d.role == DialogRole::Uas => Err(481),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Replaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};to-tag={};from-tag={}",
            self.call_id, self.to_tag, self.from_tag
        )?;
        if self.early_only {
            f.write_str(";early-only")?;
        }
        Ok(())
    }
}

/// %-escapes everything but RFC 3261 `unreserved` characters, for a value
/// placed in a URI header (`?Replaces=...`).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `Refer-To` value: `<target?Replaces=...>` for an attended transfer
/// (RFC 3891 §4), `<target>` for a blind one.
pub fn refer_to(target: &str, replaces: Option<&Replaces>) -> String {
    match replaces {
        Some(r) => format!("<{target}?Replaces={}>", escape(&r.to_string())),
        None => format!("<{target}>"),
    }
}

/// What a REFER asks for: the target URI (without URI headers) and the
/// embedded `Replaces`, if any. `Err(400)` without exactly one usable
/// `Refer-To` (RFC 3515 §2.4.1).
pub fn refer_target(refer: &Message) -> Result<(String, Option<Replaces>), u16> {
    let mut it = refer.headers(HeaderName::ReferTo);
    let (Some(value), None) = (it.next(), it.next()) else {
        return Err(400);
    };
    let na = NameAddr::parse(value, "Refer-To").map_err(|_| 400u16)?;
    let (uri, headers) = match na.uri_text.split_once('?') {
        Some((u, h)) => (u, Some(h)),
        None => (na.uri_text, None),
    };
    if uri.is_empty() {
        return Err(400);
    }
    let mut replaces = None;
    for h in headers.into_iter().flat_map(|h| h.split('&')) {
        if let Some((n, v)) = h.split_once('=') {
            if n.eq_ignore_ascii_case("Replaces") {
                replaces = Some(Replaces::parse(&percent_decode(v)).ok_or(400u16)?);
            }
        }
    }
    Ok((uri.to_string(), replaces))
}

/// A `message/sipfrag;version=2.0` NOTIFY body reporting a status
/// (RFC 3515 §2.4.5), e.g. `SIP/2.0 180 Ringing`.
pub fn sipfrag(status: u16) -> String {
    format!("SIP/2.0 {status} {}\r\n", reason_phrase(status))
}

/// The `Event` of the NOTIFYs for a REFER with CSeq `refer_seq`
/// (`refer;id=<seq>` is needed only when several REFERs share a dialog).
pub fn refer_event(refer_seq: u32) -> String {
    format!("refer;id={refer_seq}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    fn dialog(role_uas: bool) -> Dialog {
        let inv = msg("INVITE sip:a@h SIP/2.0
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:b@h>;tag=remote
To: <sip:a@h>
Call-ID: 425928@bobster.example.org
CSeq: 1 INVITE
Contact: <sip:b@h>
Content-Length: 0

");
        let mut d = Dialog::uas(&inv, "local").unwrap();
        if !role_uas {
            d.role = DialogRole::Uac;
        }
        d
    }

    #[test]
    fn parses_and_prints_replaces() {
        let r = Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only")
            .unwrap();
        assert_eq!(r.call_id, "425928@bobster.example.org");
        assert!(r.early_only);
        assert_eq!(
            r.to_string(),
            "425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only"
        );
        assert!(Replaces::parse("abc;to-tag=1").is_none());
        assert!(Replaces::parse(";to-tag=1;from-tag=2").is_none());
    }

    #[test]
    fn checks_follow_rfc3891_section_3() {
        let mut d = dialog(true);
        let r = Replaces {
            call_id: d.id.call_id.clone(),
            to_tag: "local".into(),
            from_tag: "remote".into(),
            early_only: false,
        };
        assert!(r.matches(&d));
        // Early, and we were its UAS: 481.
        assert_eq!(r.check(Some(&d)), Err(481));
        d.confirm();
        assert_eq!(r.check(Some(&d)), Ok(()));
        let early_only = Replaces {
            early_only: true,
            ..r.clone()
        };
        assert_eq!(early_only.check(Some(&d)), Err(486));
        d.terminate();
        assert_eq!(r.check(Some(&d)), Err(603));
        assert_eq!(r.check(None), Err(481));
        let mut ours = dialog(false);
        assert_eq!(r.check(Some(&ours)), Ok(()));
        ours.id.remote_tag = "other".into();
        assert_eq!(r.check(Some(&ours)), Err(481));
        // The Replaces we hand to our peer names the same dialog from its side.
        let p = Replaces::for_peer_of(&d);
        assert_eq!(
            (p.to_tag.as_str(), p.from_tag.as_str()),
            ("remote", "local")
        );
    }

    #[test]
    fn refer_to_round_trips_an_embedded_replaces() {
        let r = Replaces::parse("12345@192.0.2.1;to-tag=a;from-tag=b").unwrap();
        let v = refer_to("sip:agent2@10.0.0.7", Some(&r));
        assert_eq!(
            v,
            "<sip:agent2@10.0.0.7?Replaces=12345%40192.0.2.1%3Bto-tag%3Da%3Bfrom-tag%3Db>"
        );
        let refer = msg(&format!(
            "REFER sip:a@h SIP/2.0
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:b@h>;tag=1
To: <sip:a@h>;tag=2
Call-ID: c
CSeq: 3 REFER
Refer-To: {v}
Content-Length: 0

"
        ));
        let (target, rep) = refer_target(&refer).unwrap();
        assert_eq!(target, "sip:agent2@10.0.0.7");
        assert_eq!(rep, Some(r));
        let blind = msg("REFER sip:a@h SIP/2.0
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:b@h>;tag=1
To: <sip:a@h>;tag=2
Call-ID: c
CSeq: 3 REFER
r: <sip:5001@10.0.0.7>
Content-Length: 0

");
        assert_eq!(
            refer_target(&blind).unwrap(),
            ("sip:5001@10.0.0.7".to_string(), None)
        );
        let none = msg("REFER sip:a@h SIP/2.0
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:b@h>;tag=1
To: <sip:a@h>;tag=2
Call-ID: c
CSeq: 3 REFER
Content-Length: 0

");
        assert_eq!(refer_target(&none), Err(400));
        assert_eq!(sipfrag(180), "SIP/2.0 180 Ringing\r\n");
        assert_eq!(refer_event(3), "refer;id=3");
    }
}
