//! The benchmark corpus, shared by `benches/parse.rs` and the profiling
//! loop `examples/parse_loop.rs`, and the five typed reads each parser does.
#![allow(dead_code)]

use rsip::prelude::*;

pub const REGISTER: &str = "REGISTER sip:registrar.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:1001@registrar.example.com>\r\n\
From: <sip:1001@registrar.example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:1001@192.0.2.10:5060>\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n";

pub const SDP: &str = "v=0\r\n\
o=- 3861458720 3861458720 IN IP4 203.0.113.50\r\n\
s=-\r\n\
c=IN IP4 203.0.113.50\r\n\
t=0 0\r\n\
m=audio 31420 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

pub fn carrier_invite() -> String {
    format!(
        "INVITE sip:+18005550199@198.51.100.20:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-524287-1---2e3a7f0c9d1b4a66;rport\r\n\
Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK3c8a.b5a1e2c2.0;received=203.0.113.5\r\n\
Max-Forwards: 68\r\n\
Record-Route: <sip:203.0.113.10;lr;ftag=as6f3a2b1c>\r\n\
From: \"WIRELESS CALLER\" <sip:+14155550123@203.0.113.10;user=phone>;tag=as6f3a2b1c\r\n\
To: <sip:+18005550199@198.51.100.20;user=phone>\r\n\
Call-ID: 4f2a9c1e7b3d4e8f9a0b1c2d3e4f5a6b@203.0.113.10\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:+14155550123@203.0.113.10:5060;transport=udp>\r\n\
P-Asserted-Identity: \"WIRELESS CALLER\" <sip:+14155550123@203.0.113.10;user=phone>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY\r\n\
Supported: 100rel, timer, replaces\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
User-Agent: CarrierSBC/4.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

pub fn big_invite() -> String {
    let mut s = String::from("INVITE sip:5000@198.51.100.20 SIP/2.0\r\n");
    for i in 0..14 {
        s += &format!(
            "Via: SIP/2.0/UDP proxy{i}.carrier-{i}.example.net:5060;branch=z9hG4bK{i:04}a8b7c6d5e4f3a2b1;received=192.0.2.{i};rport=5060\r\n"
        );
    }
    for i in 0..14 {
        s += &format!(
            "Record-Route: <sip:proxy{i}.carrier-{i}.example.net;lr;ftag=8a7b6c5d{i};did=3f2.{i}a1>\r\n"
        );
    }
    s += "Max-Forwards: 56\r\n\
From: \"Long Route Caller\" <sip:+14155550123@carrier.example.net;user=phone>;tag=8a7b6c5d\r\n\
To: <sip:5000@198.51.100.20>\r\n\
Call-ID: bigroute-7f6e5d4c3b2a1908@carrier.example.net\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:+14155550123@192.0.2.99:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO\r\n\
Supported: 100rel, timer\r\n\
Content-Type: application/sdp\r\n";
    s += &format!("Content-Length: {}\r\n\r\n{SDP}", SDP.len());
    s
}

/// The five reads a transaction layer makes on every message.
pub fn ours_typed(m: &sip_core::Message) -> usize {
    let via = m.top_via().unwrap();
    let branch = via.branch().unwrap();
    let from_tag = m.from().tag().unwrap();
    let to = m.to();
    let call_id = m.call_id();
    let cseq = m.cseq();
    branch.len() + from_tag.len() + to.uri_text.len() + call_id.len() + cseq.seq as usize
}

pub fn rsip_typed(m: &rsip::SipMessage) -> usize {
    let via = m.via_header().unwrap().typed().unwrap();
    let branch = via.branch().unwrap().to_string();
    let from = m.from_header().unwrap().typed().unwrap();
    let from_tag = from.tag().unwrap().to_string();
    let to = m.to_header().unwrap().typed().unwrap();
    let call_id = m.call_id_header().unwrap().value().len();
    let cseq = m.cseq_header().unwrap().typed().unwrap();
    branch.len()
        + from_tag.len()
        + to.uri.host_with_port.to_string().len()
        + call_id
        + cseq.seq as usize
}

/// `(name, message)` for each corpus message.
pub fn corpus() -> Vec<(&'static str, String)> {
    vec![
        ("register", REGISTER.to_string()),
        ("carrier_invite", carrier_invite()),
        ("invite_4k", big_invite()),
    ]
}
