//! SDP (RFC 4566) and the offer/answer model (RFC 3264) for audio calls.
//!
//! [`Sdp::parse`] reads a session description into an owned model that
//! prints back with [`std::fmt::Display`]; parse → print → parse is stable.
//! [`answer_audio`], [`offer_audio`] and [`remote_audio`] are the three
//! operations call control needs for a G.711 (or any RTP/AVP) audio leg.
//!
//! ```
//! use sip_core::sdp::{answer_audio, Sdp};
//! let offer = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
//!     t=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
//! let ip = "10.0.0.5".parse().unwrap();
//! let (answer, codec, dtmf, remote) = answer_audio(&offer, ip, 20000, &["PCMU", "PCMA"], 7).unwrap();
//! assert_eq!((codec.name.as_str(), codec.pt, dtmf), ("PCMU", 0, Some(101)));
//! assert_eq!(remote, "192.0.2.1:4000".parse().unwrap());
//! assert!(answer.contains("m=audio 20000 RTP/AVP 0 101\r\n"));
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Why a session description was refused. [`SdpError::status`] is the SIP
/// answer: 400 for a body that is not valid SDP, 488 for valid SDP that
/// offers nothing we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("malformed SDP line {line}: {what}")]
    Malformed { line: usize, what: &'static str },
    #[error("SDP lacks the mandatory {0}= line")]
    Missing(char),
    #[error("no audio stream offered")]
    NoAudio,
    #[error("no codec in common")]
    NoCommonCodec,
    #[error("media address is not an IP address")]
    UnresolvedAddress,
}

impl SdpError {
    pub fn status(&self) -> u16 {
        match self {
            SdpError::NotUtf8 | SdpError::Malformed { .. } | SdpError::Missing(_) => 400,
            SdpError::NoAudio | SdpError::NoCommonCodec | SdpError::UnresolvedAddress => 488,
        }
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub nettype: String,
    pub addrtype: String,
    /// As written, including any `/ttl/count` suffix.
    pub address: String,
}

impl Connection {
    /// The address as an IP (multicast suffixes dropped); `None` for FQDNs.
    pub fn ip(&self) -> Option<IpAddr> {
        let a = self.address.split('/').next()?;
        a.parse().ok()
    }

    fn for_ip(ip: IpAddr) -> Connection {
        Connection {
            nettype: "IN".into(),
            addrtype: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
            address: ip.to_string(),
        }
    }
}

/// `a=<name>[:<value>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

/// Media direction (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attr(name: &str) -> Option<Direction> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The direction an answer takes for an offered direction (§6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// An RTP payload format: a payload type bound to an encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    pub pt: u8,
    /// Encoding name as written (`PCMU`, `telephone-event`, `opus`).
    pub name: String,
    pub clock: u32,
    pub channels: u8,
    pub fmtp: Option<String>,
}

impl PayloadFormat {
    pub fn new(pt: u8, name: &str, clock: u32) -> PayloadFormat {
        PayloadFormat {
            pt,
            name: name.to_string(),
            clock,
            channels: 1,
            fmtp: None,
        }
    }

    /// The static payload types of RFC 3551 §6 that are audio.
    pub fn from_static(pt: u8) -> Option<PayloadFormat> {
        let (name, clock) = match pt {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            4 => ("G723", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            13 => ("CN", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(PayloadFormat::new(pt, name, clock))
    }

    pub fn pcmu() -> PayloadFormat {
        PayloadFormat::new(0, "PCMU", 8000)
    }

    pub fn pcma() -> PayloadFormat {
        PayloadFormat::new(8, "PCMA", 8000)
    }

    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// Comfort noise, DTMF and redundancy formats, which are not codecs.
    pub fn is_auxiliary(&self) -> bool {
        self.is_telephone_event()
            || self.name.eq_ignore_ascii_case("CN")
            || self.name.eq_ignore_ascii_case("red")
    }

    fn rtpmap_value(&self) -> String {
        let mut v = String::with_capacity(self.name.len() + 16);
        push_num(&mut v, self.pt.into());
        push(&mut v, &[" ", &self.name, "/"]);
        push_num(&mut v, self.clock.into());
        if self.channels > 1 {
            v.push('/');
            push_num(&mut v, self.channels.into());
        }
        v
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `application`, ...
    pub kind: String,
    pub port: u16,
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...
    pub proto: String,
    /// Format tokens as written (payload type numbers for RTP).
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    pub bandwidths: Vec<String>,
    pub attributes: Vec<Attribute>,
    /// `i=` and `k=` lines, kept as `(type, value)`.
    pub other: Vec<(char, String)>,
}

impl Media {
    /// A media section with no attributes.
    pub fn new(kind: &str, port: u16, proto: &str, formats: Vec<String>) -> Media {
        Media {
            kind: kind.to_string(),
            port,
            port_count: None,
            proto: proto.to_string(),
            formats,
            connection: None,
            bandwidths: Vec::new(),
            attributes: Vec::new(),
            other: Vec::new(),
        }
    }

    pub fn is_rtp(&self) -> bool {
        self.proto.split('/').any(|p| p.eq_ignore_ascii_case("RTP"))
    }

    /// Values of every `a=name:value` attribute with this name.
    pub fn attrs<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.as_deref().unwrap_or(""))
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs(name).next().is_some()
    }

    /// Payload type numbers in offer order (non-numeric formats skipped).
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }

    /// `a=rtpmap:<pt> <name>/<clock>[/<channels>]` for `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<(&str, u32, u8)> {
        self.attrs("rtpmap")
            .filter_map(parse_rtpmap)
            .find(|r| r.0 == pt)
            .map(|(_, name, clock, channels)| (name, clock, channels))
    }

    /// `a=fmtp:<pt> <params>` for `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attrs("fmtp")
            .filter_map(parse_fmtp)
            .find(|f| f.0 == pt)
            .map(|f| f.1)
    }

    /// The format for `pt`: its rtpmap, else the static assignment.
    pub fn payload_format(&self, pt: u8) -> Option<PayloadFormat> {
        let mut f = match self.rtpmap(pt) {
            Some((name, clock, channels)) => PayloadFormat {
                pt,
                name: name.to_string(),
                clock,
                channels,
                fmtp: None,
            },
            None => PayloadFormat::from_static(pt)?,
        };
        f.fmtp = self.fmtp(pt).map(str::to_string);
        Some(f)
    }

    /// Every format listed on the `m=` line that can be identified (the
    /// same as [`Media::payload_format`] for each, in one pass over the
    /// attributes).
    pub fn payload_formats(&self) -> Vec<PayloadFormat> {
        let pts = self.payload_types();
        let mut maps: Vec<Option<(&str, u32, u8)>> = vec![None; pts.len()];
        let mut fmtps: Vec<Option<&str>> = vec![None; pts.len()];
        for a in &self.attributes {
            let value = a.value.as_deref().unwrap_or("");
            if a.name.eq_ignore_ascii_case("rtpmap") {
                if let Some((pt, name, clock, ch)) = parse_rtpmap(value) {
                    for (i, _) in pts.iter().enumerate().filter(|(_, &p)| p == pt) {
                        maps[i].get_or_insert((name, clock, ch));
                    }
                }
            } else if a.name.eq_ignore_ascii_case("fmtp") {
                if let Some((pt, params)) = parse_fmtp(value) {
                    for (i, _) in pts.iter().enumerate().filter(|(_, &p)| p == pt) {
                        fmtps[i].get_or_insert(params);
                    }
                }
            }
        }
        pts.iter()
            .zip(maps.into_iter().zip(fmtps))
            .filter_map(|(&pt, (map, fmtp))| {
                let mut f = match map {
                    Some((name, clock, channels)) => PayloadFormat {
                        pt,
                        name: name.to_string(),
                        clock,
                        channels,
                        fmtp: None,
                    },
                    None => PayloadFormat::from_static(pt)?,
                };
                f.fmtp = fmtp.map(str::to_string);
                Some(f)
            })
            .collect()
    }

    /// The payload type of `telephone-event/8000` (RFC 4733), if listed.
    pub fn telephone_event(&self) -> Option<u8> {
        self.payload_formats()
            .into_iter()
            .find(|f| f.is_telephone_event() && f.clock == 8000)
            .map(|f| f.pt)
    }

    /// The media-level direction attribute, if any.
    pub fn own_direction(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attr(&a.name))
    }

    pub fn rtcp_mux(&self) -> bool {
        self.has_attr("rtcp-mux")
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attrs("ptime").next()?.trim().parse().ok()
    }

    /// `a=rtcp:<port>` (RFC 3605).
    pub fn rtcp_port(&self) -> Option<u16> {
        self.attrs("rtcp")
            .next()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    pub origin: Origin,
    pub session_name: String,
    pub connection: Option<Connection>,
    pub bandwidths: Vec<String>,
    /// `t=` lines each followed by their `r=` lines, as `(type, value)`.
    pub timing: Vec<(char, String)>,
    pub attributes: Vec<Attribute>,
    /// `i= u= e= p= z= k=` lines, as `(type, value)`.
    pub other: Vec<(char, String)>,
    pub media: Vec<Media>,
}

impl Sdp {
    /// Parses a body. Accepts `\n` as well as `\r\n` line ends and ignores
    /// unknown line types; requires `v=0` first and an `o=` line.
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut origin = None;
        let mut session_name = None;
        let mut sdp = Sdp {
            origin: Origin {
                username: String::new(),
                session_id: String::new(),
                session_version: String::new(),
                nettype: String::new(),
                addrtype: String::new(),
                address: String::new(),
            },
            session_name: String::new(),
            connection: None,
            bandwidths: Vec::new(),
            timing: Vec::new(),
            attributes: Vec::new(),
            other: Vec::new(),
            media: Vec::new(),
        };
        let mut seen_version = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let bad = |what| SdpError::Malformed {
                line: line_no,
                what,
            };
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(bad("not <type>=<value>"));
            }
            let kind = b[0] as char;
            let value = &line[2..];
            if !seen_version {
                if kind != 'v' || value.trim() != "0" {
                    return Err(bad("first line must be v=0"));
                }
                seen_version = true;
                continue;
            }
            if let Some(m) = sdp.media.last_mut() {
                match kind {
                    'm' => {}
                    'c' => {
                        m.connection = Some(parse_connection(value).ok_or(bad("bad c= line"))?);
                        continue;
                    }
                    'b' => {
                        m.bandwidths.push(value.to_string());
                        continue;
                    }
                    'a' => {
                        m.attributes.push(parse_attribute(value));
                        continue;
                    }
                    'i' | 'k' => {
                        m.other.push((kind, value.to_string()));
                        continue;
                    }
                    _ => continue,
                }
            }
            match kind {
                'v' => return Err(bad("repeated v= line")),
                'o' => {
                    if origin.is_some() {
                        return Err(bad("repeated o= line"));
                    }
                    origin = Some(parse_origin(value).ok_or(bad("bad o= line"))?);
                }
                's' => session_name = Some(value.to_string()),
                'c' => sdp.connection = Some(parse_connection(value).ok_or(bad("bad c= line"))?),
                'b' => sdp.bandwidths.push(value.to_string()),
                't' | 'r' => sdp.timing.push((kind, value.to_string())),
                'a' => sdp.attributes.push(parse_attribute(value)),
                'i' | 'u' | 'e' | 'p' | 'z' | 'k' => sdp.other.push((kind, value.to_string())),
                'm' => sdp
                    .media
                    .push(parse_media(value).ok_or(bad("bad m= line"))?),
                _ => {}
            }
        }
        if !seen_version {
            return Err(SdpError::Missing('v'));
        }
        sdp.origin = origin.ok_or(SdpError::Missing('o'))?;
        sdp.session_name = session_name.unwrap_or_else(|| "-".into());
        Ok(sdp)
    }

    /// Session-level attribute values with this name.
    pub fn attrs<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.as_deref().unwrap_or(""))
    }

    /// The session-level direction, `sendrecv` when absent.
    pub fn session_direction(&self) -> Direction {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attr(&a.name))
            .unwrap_or(Direction::SendRecv)
    }

    /// The effective direction of a media section (media level, else
    /// session level, else `sendrecv`).
    pub fn direction(&self, media: &Media) -> Direction {
        media
            .own_direction()
            .unwrap_or_else(|| self.session_direction())
    }

    /// The effective connection of a media section: its own `c=` line,
    /// else the session's.
    pub fn connection_of<'s>(&'s self, media: &'s Media) -> Option<&'s Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }

    /// Where to send RTP for this media section (IP addresses only).
    pub fn rtp_addr(&self, media: &Media) -> Option<SocketAddr> {
        let ip = self.connection_of(media)?.ip()?;
        Some(SocketAddr::new(ip, media.port))
    }

    /// True for a section put on hold (RFC 3264 §8.4): `sendonly` or
    /// `inactive`, or the RFC 2543 `c=0.0.0.0` form.
    pub fn is_hold(&self, media: &Media) -> bool {
        !self.direction(media).receives()
            || self
                .connection_of(media)
                .and_then(Connection::ip)
                .is_some_and(|ip| ip.is_unspecified())
    }
}

fn parse_origin(v: &str) -> Option<Origin> {
    let f: Vec<&str> = v.split_whitespace().collect();
    let [username, id, version, nettype, addrtype, address] = f[..] else {
        return None;
    };
    Some(Origin {
        username: username.into(),
        session_id: id.into(),
        session_version: version.into(),
        nettype: nettype.into(),
        addrtype: addrtype.into(),
        address: address.into(),
    })
}

fn parse_connection(v: &str) -> Option<Connection> {
    let f: Vec<&str> = v.split_whitespace().collect();
    let [nettype, addrtype, address] = f[..] else {
        return None;
    };
    let c = Connection {
        nettype: nettype.into(),
        addrtype: addrtype.into(),
        address: address.into(),
    };
    // An IP4/IP6 literal must match its address type (FQDNs are allowed).
    match (addrtype, c.ip()) {
        (a, Some(IpAddr::V4(_))) if !a.eq_ignore_ascii_case("IP4") => None,
        (a, Some(IpAddr::V6(_))) if !a.eq_ignore_ascii_case("IP6") => None,
        _ => Some(c),
    }
}

fn parse_attribute(v: &str) -> Attribute {
    match v.split_once(':') {
        Some((n, val)) => Attribute {
            name: n.to_string(),
            value: Some(val.to_string()),
        },
        None => Attribute {
            name: v.to_string(),
            value: None,
        },
    }
}

fn parse_media(v: &str) -> Option<Media> {
    let mut it = v.split_whitespace();
    let kind = it.next()?;
    let port_text = it.next()?;
    let proto = it.next()?;
    let (port, count) = match port_text.split_once('/') {
        Some((p, c)) => (p, Some(c.parse().ok()?)),
        None => (port_text, None),
    };
    if !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || kind.is_empty() {
        return None;
    }
    let mut m = Media::new(
        kind,
        port.parse().ok()?,
        proto,
        it.map(String::from).collect(),
    );
    m.port_count = count;
    Some(m)
}

fn write_attr(out: &mut String, a: &Attribute) {
    push(out, &["a=", &a.name]);
    if let Some(v) = &a.value {
        push(out, &[":", v]);
    }
    out.push_str("\r\n");
}

/// Appends the pieces (the serializer writes SDP with this and
/// [`push_num`] rather than `write!`: it runs twice per call).
fn push(out: &mut String, pieces: &[&str]) {
    for p in pieces {
        out.push_str(p);
    }
}

fn push_num(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

/// `k=v` lines of `other` whose type is in `types`.
fn push_other(out: &mut String, other: &[(char, String)], types: &str) {
    for (k, v) in other.iter().filter(|(k, _)| types.contains(*k)) {
        out.push(*k);
        push(out, &["=", v, "\r\n"]);
    }
}

fn push_connection(out: &mut String, c: &Connection) {
    push(
        out,
        &["c=", &c.nettype, " ", &c.addrtype, " ", &c.address, "\r\n"],
    );
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(320);
        let o = &self.origin;
        push(
            &mut out,
            &[
                "v=0\r\no=",
                &o.username,
                " ",
                &o.session_id,
                " ",
                &o.session_version,
                " ",
                &o.nettype,
                " ",
                &o.addrtype,
                " ",
                &o.address,
                "\r\ns=",
                &self.session_name,
                "\r\n",
            ],
        );
        push_other(&mut out, &self.other, "iuep");
        if let Some(c) = &self.connection {
            push_connection(&mut out, c);
        }
        for b in &self.bandwidths {
            push(&mut out, &["b=", b, "\r\n"]);
        }
        if self.timing.is_empty() {
            out.push_str("t=0 0\r\n");
        }
        push_other(&mut out, &self.timing, "tr");
        push_other(&mut out, &self.other, "zk");
        for a in &self.attributes {
            write_attr(&mut out, a);
        }
        for m in &self.media {
            push(&mut out, &["m=", &m.kind, " "]);
            push_num(&mut out, m.port.into());
            if let Some(c) = m.port_count {
                out.push('/');
                push_num(&mut out, c.into());
            }
            push(&mut out, &[" ", &m.proto]);
            for fmt in &m.formats {
                push(&mut out, &[" ", fmt]);
            }
            out.push_str("\r\n");
            push_other(&mut out, &m.other, "i");
            if let Some(c) = &m.connection {
                push_connection(&mut out, c);
            }
            for b in &m.bandwidths {
                push(&mut out, &["b=", b, "\r\n"]);
            }
            push_other(&mut out, &m.other, "k");
            for a in &m.attributes {
                write_attr(&mut out, a);
            }
        }
        f.write_str(&out)
    }
}

/// Protocols an audio answer can accept without SRTP.
fn acceptable_proto(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

fn session_header(session_id: u64, version: u64, local_ip: IpAddr) -> Sdp {
    let c = Connection::for_ip(local_ip);
    Sdp {
        origin: Origin {
            username: "switchboard".into(),
            session_id: session_id.to_string(),
            session_version: version.to_string(),
            nettype: "IN".into(),
            addrtype: c.addrtype.clone(),
            address: c.address.clone(),
        },
        session_name: "switchboard".into(),
        connection: Some(c),
        bandwidths: Vec::new(),
        timing: vec![('t', "0 0".into())],
        attributes: Vec::new(),
        other: Vec::new(),
        media: Vec::new(),
    }
}

/// An `a=rtpmap` value: `(pt, name, clock, channels)`.
fn parse_rtpmap(v: &str) -> Option<(u8, &str, u32, u8)> {
    let (p, rest) = v.split_once(' ')?;
    let pt = p.trim().parse::<u8>().ok()?;
    let mut it = rest.trim().split('/');
    let name = it.next()?;
    let clock = it.next()?.trim().parse().ok()?;
    let channels = match it.next() {
        Some(c) => c.trim().parse().ok()?,
        None => 1,
    };
    (!name.is_empty()).then_some((pt, name, clock, channels))
}

/// An `a=fmtp` value: `(pt, params)`.
fn parse_fmtp(v: &str) -> Option<(u8, &str)> {
    let (p, rest) = v.split_once(' ').unwrap_or((v, ""));
    Some((p.trim().parse::<u8>().ok()?, rest.trim()))
}

fn rtp_attributes(media: &mut Media, formats: &[&PayloadFormat]) {
    for f in formats {
        media.attributes.push(Attribute {
            name: "rtpmap".into(),
            value: Some(f.rtpmap_value()),
        });
        if let Some(p) = &f.fmtp {
            media.attributes.push(Attribute {
                name: "fmtp".into(),
                value: Some({
                    let mut v = String::with_capacity(p.len() + 4);
                    push_num(&mut v, f.pt.into());
                    push(&mut v, &[" ", p]);
                    v
                }),
            });
        }
    }
}

/// The audio stream chosen from an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioAnswer {
    /// The answer body.
    pub sdp: String,
    pub codec: PayloadFormat,
    pub telephone_event: Option<u8>,
    /// Where to send RTP (the offerer's address for the chosen stream).
    pub remote: SocketAddr,
    /// The direction the answer declares (offer's, mirrored).
    pub direction: Direction,
    pub rtcp_mux: bool,
    /// Index of the accepted `m=` line in the offer.
    pub media_index: usize,
}

/// Answers an offer with one audio stream (RFC 3264 §6): the first offered
/// RTP/AVP(F) audio section that has a codec from `supported` (our
/// preference order, names case-insensitive, 8 kHz-or-offered clock) and an
/// IP address. Other sections are refused with port 0, keeping the offer's
/// count and order. `telephone-event` is kept when offered; direction is
/// mirrored; `rtcp-mux` is accepted when offered. The `o=` version equals
/// `session_id`; use [`answer_audio_full`] for re-INVITE answers.
pub fn answer_audio(
    offer: &Sdp,
    local_ip: IpAddr,
    local_port: u16,
    supported: &[&str],
    session_id: u64,
) -> Result<(String, PayloadFormat, Option<u8>, SocketAddr), SdpError> {
    let a = answer_audio_full(
        offer, local_ip, local_port, supported, session_id, session_id,
    )?;
    Ok((a.sdp, a.codec, a.telephone_event, a.remote))
}

/// [`answer_audio`] with an explicit `o=` version and the full outcome.
pub fn answer_audio_full(
    offer: &Sdp,
    local_ip: IpAddr,
    local_port: u16,
    supported: &[&str],
    session_id: u64,
    version: u64,
) -> Result<AudioAnswer, SdpError> {
    let mut chosen: Option<(usize, PayloadFormat, SocketAddr, Vec<PayloadFormat>)> = None;
    let mut saw_audio = false;
    let mut unresolved = false;
    for (i, m) in offer.media.iter().enumerate() {
        if !m.kind.eq_ignore_ascii_case("audio") || m.port == 0 || !acceptable_proto(&m.proto) {
            continue;
        }
        saw_audio = true;
        let offered = m.payload_formats();
        let codec = supported.iter().find_map(|name| {
            offered
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name) && !f.is_auxiliary())
        });
        let Some(codec) = codec else { continue };
        let Some(remote) = offer.rtp_addr(m) else {
            unresolved = true;
            continue;
        };
        let codec = codec.clone();
        chosen = Some((i, codec, remote, offered));
        break;
    }
    let Some((index, codec, remote, offered)) = chosen else {
        return Err(if unresolved {
            SdpError::UnresolvedAddress
        } else if saw_audio {
            SdpError::NoCommonCodec
        } else {
            SdpError::NoAudio
        });
    };
    let om = &offer.media[index];
    let te = offered
        .into_iter()
        .find(|f| f.is_telephone_event() && f.clock == codec.clock);
    let direction = offer.direction(om).answer();
    let rtcp_mux = om.rtcp_mux();

    let mut answer = session_header(session_id, version, local_ip);
    for (i, m) in offer.media.iter().enumerate() {
        if i != index {
            let mut refused = Media::new(&m.kind, 0, &m.proto, m.formats.clone());
            if refused.formats.is_empty() {
                refused.formats.push("0".into());
            }
            answer.media.push(refused);
            continue;
        }
        let mut formats = vec![codec.pt.to_string()];
        formats.extend(te.iter().map(|t| t.pt.to_string()));
        let mut media = Media::new("audio", local_port, &m.proto, formats);
        let mut listed = vec![&codec];
        listed.extend(te.iter());
        rtp_attributes(&mut media, &listed);
        if let Some(p) = m.ptime() {
            media.attributes.push(Attribute {
                name: "ptime".into(),
                value: Some(p.to_string()),
            });
        }
        if rtcp_mux {
            media.attributes.push(Attribute {
                name: "rtcp-mux".into(),
                value: None,
            });
        }
        media.attributes.push(Attribute {
            name: direction.as_str().into(),
            value: None,
        });
        answer.media.push(media);
    }
    Ok(AudioAnswer {
        sdp: answer.to_string(),
        codec,
        telephone_event: te.map(|t| t.pt),
        remote,
        direction,
        rtcp_mux,
        media_index: index,
    })
}

/// An offer with one `sendrecv` RTP/AVP audio stream listing `formats` in
/// order, then `telephone-event/8000` (events 0-16) when given.
pub fn offer_audio(
    local_ip: IpAddr,
    local_port: u16,
    formats: &[PayloadFormat],
    telephone_event: Option<u8>,
    session_id: u64,
    version: u64,
) -> String {
    offer_audio_with(
        local_ip,
        local_port,
        formats,
        telephone_event,
        session_id,
        version,
        Direction::SendRecv,
    )
}

/// [`offer_audio`] with a direction (e.g. `sendonly` to put a peer on hold,
/// RFC 3264 §8.4).
pub fn offer_audio_with(
    local_ip: IpAddr,
    local_port: u16,
    formats: &[PayloadFormat],
    telephone_event: Option<u8>,
    session_id: u64,
    version: u64,
    direction: Direction,
) -> String {
    let mut sdp = session_header(session_id, version, local_ip);
    let te = telephone_event.map(|pt| {
        let mut f = PayloadFormat::new(pt, "telephone-event", 8000);
        f.fmtp = Some("0-16".into());
        f
    });
    let listed: Vec<&PayloadFormat> = formats.iter().chain(te.iter()).collect();
    let mut media = Media::new(
        "audio",
        local_port,
        "RTP/AVP",
        listed.iter().map(|f| f.pt.to_string()).collect(),
    );
    rtp_attributes(&mut media, &listed);
    media.attributes.push(Attribute {
        name: "ptime".into(),
        value: Some("20".into()),
    });
    media.attributes.push(Attribute {
        name: direction.as_str().into(),
        value: None,
    });
    sdp.media.push(media);
    sdp.to_string()
}

/// The first accepted audio stream of an answer: where to send RTP and the
/// first real codec listed (telephone-event, CN and red skipped).
pub fn remote_audio(answer: &Sdp) -> Option<(SocketAddr, PayloadFormat)> {
    answer
        .media
        .iter()
        .filter(|m| m.kind.eq_ignore_ascii_case("audio") && m.port != 0)
        .find_map(|m| {
            let codec = m
                .payload_formats()
                .into_iter()
                .find(|f| !f.is_auxiliary())?;
            Some((answer.rtp_addr(m)?, codec))
        })
}

/// The RFC 4733 telephone-event payload type of an answer's first accepted
/// audio stream, if it has one.
pub fn answer_telephone_event(answer: &Sdp) -> Option<u8> {
    answer
        .media
        .iter()
        .find(|m| m.kind.eq_ignore_ascii_case("audio") && m.port != 0)
        .and_then(|m| m.telephone_event())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARRIER: &str = "v=0\r\n\
o=carrier 1234 5678 IN IP4 203.0.113.10\r\n\
s=SIP Call\r\n\
c=IN IP4 203.0.113.10\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 18 8 0 101 13\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_a_carrier_offer() {
        let s = Sdp::parse(CARRIER.as_bytes()).unwrap();
        assert_eq!(s.origin.session_id, "1234");
        assert_eq!(
            s.connection.as_ref().unwrap().ip(),
            Some(ip("203.0.113.10"))
        );
        let m = &s.media[0];
        assert_eq!(
            (m.kind.as_str(), m.port, m.proto.as_str()),
            ("audio", 30000, "RTP/AVP")
        );
        assert_eq!(m.payload_types(), vec![18, 8, 0, 101, 13]);
        assert_eq!(m.rtpmap(18), Some(("G729", 8000, 1)));
        assert_eq!(m.fmtp(101), Some("0-15"));
        assert_eq!(m.telephone_event(), Some(101));
        // 13 has no rtpmap: static CN.
        assert_eq!(m.payload_format(13).unwrap().name, "CN");
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(s.direction(m), Direction::SendRecv);
        assert!(!m.rtcp_mux());
        assert_eq!(s.rtp_addr(m), Some("203.0.113.10:30000".parse().unwrap()));
    }

    #[test]
    fn static_payload_types_need_no_rtpmap_and_lf_lines_parse() {
        let s = Sdp::parse(b"v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 5004 RTP/AVP 0 8 9\n").unwrap();
        let f = s.media[0].payload_formats();
        let names: Vec<_> = f.iter().map(|f| (f.pt, f.name.as_str(), f.clock)).collect();
        assert_eq!(
            names,
            vec![(0, "PCMU", 8000), (8, "PCMA", 8000), (9, "G722", 8000)]
        );
    }

    #[test]
    fn media_connection_and_direction_override_session() {
        let s = Sdp::parse(
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\na=recvonly\r\n\
m=audio 5004 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\na=rtcp-mux\r\na=rtcp:5005\r\n\
m=audio 6004 RTP/AVP 0\r\na=inactive\r\n",
        )
        .unwrap();
        let (m0, m1) = (&s.media[0], &s.media[1]);
        assert_eq!(s.rtp_addr(m0), Some("[2001:db8::1]:5004".parse().unwrap()));
        assert_eq!(s.direction(m0), Direction::RecvOnly);
        assert!(m0.rtcp_mux());
        assert_eq!(m0.rtcp_port(), Some(5005));
        assert_eq!(s.rtp_addr(m1), Some("1.2.3.4:6004".parse().unwrap()));
        assert_eq!(s.direction(m1), Direction::Inactive);
        assert!(s.is_hold(m1));
    }

    #[test]
    fn malformed_is_400() {
        for bad in [
            &b""[..],
            b"o=- 1 1 IN IP4 1.2.3.4\r\n",
            b"v=1\r\n",
            b"v=0\r\ns=-\r\n",
            b"v=0\r\no=- 1 1 IN IP4\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP6 1.2.3.4\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nx y\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n\xff=\r\n",
        ] {
            let e = Sdp::parse(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn answer_prefers_our_codec_keeps_dtmf_and_mirrors() {
        let offer = Sdp::parse(CARRIER.as_bytes()).unwrap();
        let a =
            answer_audio_full(&offer, ip("10.0.0.5"), 20000, &["PCMA", "PCMU"], 42, 43).unwrap();
        assert_eq!(a.codec, PayloadFormat::pcma());
        assert_eq!(a.telephone_event, Some(101));
        assert_eq!(a.remote, "203.0.113.10:30000".parse().unwrap());
        let parsed = Sdp::parse(a.sdp.as_bytes()).unwrap();
        assert_eq!(parsed.origin.session_id, "42");
        assert_eq!(parsed.origin.session_version, "43");
        let m = &parsed.media[0];
        assert_eq!(m.formats, vec!["8", "101"]);
        assert_eq!(m.fmtp(101), Some("0-15"));
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(parsed.direction(m), Direction::SendRecv);
        assert_eq!(
            remote_audio(&parsed).unwrap().0,
            "10.0.0.5:20000".parse().unwrap()
        );

        // sendonly offer (hold) gets recvonly; inactive stays inactive.
        for (offered, answered) in [
            ("sendonly", "recvonly"),
            ("recvonly", "sendonly"),
            ("inactive", "inactive"),
        ] {
            let o = Sdp::parse(
                CARRIER
                    .replace("a=sendrecv", &format!("a={offered}"))
                    .as_bytes(),
            )
            .unwrap();
            let (sdp, ..) = answer_audio(&o, ip("10.0.0.5"), 20000, &["PCMU"], 1).unwrap();
            assert!(sdp.contains(&format!("a={answered}\r\n")), "{sdp}");
        }
    }

    #[test]
    fn answer_refuses_other_streams_keeping_order() {
        let offer = Sdp::parse(
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 5002 RTP/SAVP 0\r\n\
m=audio 5004 RTP/AVP 97 0\r\na=rtpmap:97 opus/48000/2\r\na=rtcp-mux\r\n\
m=audio 5006 RTP/AVP 8\r\n\
m=application 5008 UDP/BFCP *\r\n",
        )
        .unwrap();
        let a = answer_audio_full(&offer, ip("10.0.0.5"), 20000, &["PCMU", "PCMA"], 1, 1).unwrap();
        assert_eq!(a.media_index, 2);
        assert_eq!(a.telephone_event, None);
        assert!(a.rtcp_mux);
        let p = Sdp::parse(a.sdp.as_bytes()).unwrap();
        let lines: Vec<_> = p
            .media
            .iter()
            .map(|m| {
                (
                    m.kind.as_str(),
                    m.port,
                    m.proto.as_str(),
                    m.formats.join(" "),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                ("video", 0, "RTP/AVP", "96".to_string()),
                ("audio", 0, "RTP/SAVP", "0".to_string()),
                ("audio", 20000, "RTP/AVP", "0".to_string()),
                ("audio", 0, "RTP/AVP", "8".to_string()),
                ("application", 0, "UDP/BFCP", "*".to_string()),
            ]
        );
        assert!(p.media[2].rtcp_mux());
    }

    #[test]
    fn answer_errors_are_488() {
        let g729_only = CARRIER.replace("RTP/AVP 18 8 0 101 13", "RTP/AVP 18 101");
        let e = answer_audio(
            &Sdp::parse(g729_only.as_bytes()).unwrap(),
            ip("10.0.0.5"),
            1,
            &["PCMU", "PCMA"],
            1,
        )
        .unwrap_err();
        assert_eq!((e.clone(), e.status()), (SdpError::NoCommonCodec, 488));
        let video = Sdp::parse(
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 31\r\n",
        )
        .unwrap();
        assert_eq!(
            answer_audio(&video, ip("10.0.0.5"), 1, &["PCMU"], 1).unwrap_err(),
            SdpError::NoAudio
        );
        let fqdn = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 media.example.com\r\nm=audio 5000 RTP/AVP 0\r\n").unwrap();
        assert_eq!(
            answer_audio(&fqdn, ip("10.0.0.5"), 1, &["PCMU"], 1).unwrap_err(),
            SdpError::UnresolvedAddress
        );
        // telephone-event alone is not a codec.
        let te_only = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
        assert_eq!(
            answer_audio(&te_only, ip("10.0.0.5"), 1, &["telephone-event"], 1).unwrap_err(),
            SdpError::NoCommonCodec
        );
    }

    #[test]
    fn offer_roundtrips_and_remote_audio_reads_it() {
        let text = offer_audio(
            ip("192.0.2.7"),
            40000,
            &[PayloadFormat::pcmu(), PayloadFormat::pcma()],
            Some(101),
            9,
            10,
        );
        assert!(text.starts_with("v=0\r\no=switchboard 9 10 IN IP4 192.0.2.7\r\n"));
        let s = Sdp::parse(text.as_bytes()).unwrap();
        let m = &s.media[0];
        assert_eq!(m.payload_types(), vec![0, 8, 101]);
        assert_eq!(m.fmtp(101), Some("0-16"));
        assert_eq!(s.direction(m), Direction::SendRecv);
        let (addr, codec) = remote_audio(&s).unwrap();
        assert_eq!(addr, "192.0.2.7:40000".parse().unwrap());
        assert_eq!(codec, PayloadFormat::pcmu());
        assert_eq!(s.to_string(), text);

        // Offer → answer → remote_audio, across IPv6.
        let (ans, codec, te, remote) =
            answer_audio(&s, ip("2001:db8::5"), 20002, &["PCMA"], 77).unwrap();
        assert_eq!((codec.pt, te, remote.port()), (8, Some(101), 40000));
        let ans = Sdp::parse(ans.as_bytes()).unwrap();
        assert_eq!(
            remote_audio(&ans),
            Some((
                "[2001:db8::5]:20002".parse().unwrap(),
                PayloadFormat::pcma()
            ))
        );
        let hold = offer_audio_with(
            ip("192.0.2.7"),
            40000,
            &[PayloadFormat::pcmu()],
            None,
            9,
            11,
            Direction::SendOnly,
        );
        let hold = Sdp::parse(hold.as_bytes()).unwrap();
        assert!(hold.is_hold(&hold.media[0]));
    }

    #[test]
    fn remote_audio_skips_refused_streams() {
        let s = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\nm=audio 7000 RTP/AVP 101 8\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
        let (addr, codec) = remote_audio(&s).unwrap();
        assert_eq!(addr.port(), 7000);
        assert_eq!(codec.name, "PCMA");
    }

    #[test]
    fn print_parse_is_stable_for_rich_sdp() {
        let src = "v=0\r\no=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\ns=SDP Seminar\r\n\
i=A Seminar\r\nu=http://www.example.com/seminars/sdp.pdf\r\ne=j.doe@example.com (Jane Doe)\r\n\
c=IN IP4 224.2.17.12/127\r\nb=AS:64\r\nt=2873397496 2873404696\r\nr=7d 1h 0 25h\r\na=recvonly\r\n\
m=audio 49170/2 RTP/AVP 0\r\ni=voice\r\nb=TIAS:64000\r\nm=video 51372 RTP/AVP 99\r\na=rtpmap:99 h263-1998/90000\r\n";
        let a = Sdp::parse(src.as_bytes()).unwrap();
        assert_eq!(a.media[0].port_count, Some(2));
        assert_eq!(a.connection.as_ref().unwrap().ip(), Some(ip("224.2.17.12")));
        let printed = a.to_string();
        assert_eq!(printed, src);
        assert_eq!(Sdp::parse(printed.as_bytes()).unwrap(), a);
    }

    #[test]
    fn session_level_direction_and_connection_and_wideband_dtmf() {
        // Session-level sendonly (hold) with the address only on the m= line;
        // telephone-event offered at two rates: the one matching the codec
        // clock is kept.
        let offer = Sdp::parse(
            b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=sendonly\r\n\
m=audio 5004 RTP/AVP 9 0 100 101\r\nc=IN IP4 198.51.100.4\r\n\
a=rtpmap:100 telephone-event/16000\r\na=rtpmap:101 telephone-event/8000\r\n",
        )
        .unwrap();
        assert!(offer.is_hold(&offer.media[0]));
        let a = answer_audio_full(&offer, ip("10.0.0.5"), 20000, &["G722", "PCMU"], 1, 1).unwrap();
        assert_eq!(a.codec.name, "G722");
        assert_eq!(a.telephone_event, Some(101));
        assert_eq!(a.direction, Direction::RecvOnly);
        assert_eq!(a.remote, "198.51.100.4:5004".parse().unwrap());
        // No session-level c= and none on the m= line: not usable.
        let no_c =
            Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 5004 RTP/AVP 0\r\n").unwrap();
        assert_eq!(
            answer_audio(&no_c, ip("10.0.0.5"), 1, &["PCMU"], 1).unwrap_err(),
            SdpError::UnresolvedAddress
        );
        // Encoding names compare case-insensitively; channels are parsed.
        let stereo = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 5004 RTP/AVP 111 0\r\na=rtpmap:111 OPUS/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n").unwrap();
        let a = answer_audio_full(&stereo, ip("10.0.0.5"), 2, &["opus", "PCMU"], 1, 1).unwrap();
        assert_eq!(
            (a.codec.pt, a.codec.clock, a.codec.channels),
            (111, 48000, 2)
        );
        assert_eq!(a.codec.fmtp.as_deref(), Some("minptime=10;useinbandfec=1"));
        assert!(a
            .sdp
            .contains("a=rtpmap:111 OPUS/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"));
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Sdp>();
        check::<crate::auth::DigestServer>();
        check::<crate::transaction::TransactionLayer>();
        check::<crate::dialog::Dialog>();
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = Sdp::parse(&body);
            }

            #[test]
            fn line_soup_never_panics_and_roundtrips(
                lines in proptest::collection::vec("[vosicbtramkzuep]=[ -~]{0,40}", 0..20)
            ) {
                let body = format!("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n{}", lines.join("\r\n"));
                if let Ok(s) = Sdp::parse(body.as_bytes()) {
                    let printed = s.to_string();
                    let again = Sdp::parse(printed.as_bytes()).unwrap();
                    prop_assert_eq!(again.to_string(), printed);
                    let _ = answer_audio(&s, "127.0.0.1".parse().unwrap(), 1, &["PCMU"], 1);
                    let _ = remote_audio(&s);
                }
            }
        }
    }

    #[test]
    fn display_writes_every_line_back_in_order() {
        let text = "v=0\r\no=- 7 8 IN IP6 ::1\r\ns=talk\r\ni=info\r\nu=http://x\r\n\
e=a@b\r\np=+1 555\r\nc=IN IP6 ::1\r\nb=AS:64\r\nt=0 0\r\nr=7d 1h 0 25h\r\n\
z=2882844526 -1h\r\nk=prompt\r\na=group:BUNDLE 0\r\n\
m=audio 49170/2 RTP/AVP 0 96\r\ni=voice\r\nc=IN IP4 192.0.2.1\r\nb=TIAS:64000\r\n\
k=clear:x\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=sendonly\r\n\
m=video 0 RTP/AVP 31\r\n";
        let sdp = Sdp::parse(text.as_bytes()).unwrap();
        assert_eq!(sdp.to_string(), text);
        assert_eq!(Sdp::parse(sdp.to_string().as_bytes()).unwrap(), sdp);
        let f = PayloadFormat {
            pt: 96,
            name: "opus".into(),
            clock: 48000,
            channels: 2,
            fmtp: None,
        };
        assert_eq!(f.rtpmap_value(), "96 opus/48000/2");
        assert_eq!(PayloadFormat::pcma().rtpmap_value(), "8 PCMA/8000");
    }

    use proptest::prelude::*;

    proptest! {
        /// The one-pass `payload_formats` agrees with `payload_format` per
        /// listed type, whatever the attributes (duplicates, junk, order).
        #[test]
        fn payload_formats_match_one_lookup_per_type(
            formats in proptest::collection::vec(
                prop_oneof![(0u8..130).prop_map(|p| p.to_string()), "[a-z0-9]{1,3}"],
                0..8,
            ),
            attrs in proptest::collection::vec(
                (
                    prop_oneof!["rtpmap", "fmtp", "RTPMAP", "ptime", "sendrecv"],
                    proptest::option::of(prop_oneof![
                        ((0u8..130), "[A-Za-z0-9-]{0,6}", "(8000|16000|48000|x)", proptest::option::of("[12x]"))
                            .prop_map(|(p, n, c, ch)| match ch {
                                Some(ch) => format!("{p} {n}/{c}/{ch}"),
                                None => format!("{p} {n}/{c}"),
                            }),
                        ((0u8..130), "[a-z0-9=;-]{0,10}").prop_map(|(p, v)| format!("{p} {v}")),
                        "[ -~]{0,12}",
                    ]),
                ),
                0..10,
            ),
        ) {
            let mut m = Media::new("audio", 4000, "RTP/AVP", formats);
            m.attributes = attrs
                .into_iter()
                .map(|(name, value)| Attribute { name: name.to_string(), value })
                .collect();
            let one_by_one: Vec<PayloadFormat> = m
                .payload_types()
                .into_iter()
                .filter_map(|pt| m.payload_format(pt))
                .collect();
            prop_assert_eq!(m.payload_formats(), one_by_one);
        }
    }
}
