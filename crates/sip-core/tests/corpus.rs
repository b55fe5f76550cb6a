//! Our own wire-format corpus beyond RFC 4475: one test per category the
//! parser must handle (compact forms, lists, folding, quoting, case,
//! SIPS/TEL, IPv6 per RFC 5118, multipart, stream framing, oversize,
//! extensions).

use bytes::Bytes;
use sip_core::{multipart, HeaderName, Message, Method, ParseError, Scheme, MAX_MESSAGE_SIZE};

/// Writes a message with `\n` line ends as SIP's CRLF.
fn crlf(s: &str) -> String {
    assert!(!s.contains('\r'));
    s.replace('\n', "\r\n")
}

fn parse(s: &str) -> Result<Message, ParseError> {
    Message::parse(Bytes::from(crlf(s)))
}

fn ok(s: &str) -> Message {
    parse(s).unwrap_or_else(|e| panic!("must parse: {e:?}\n{s}"))
}

/// A request with the mandatory headers around `extra`.
fn invite(extra: &str) -> String {
    format!(
        "INVITE sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\n\
         Max-Forwards: 70\n\
         To: Bob <sip:bob@example.com>\n\
         From: Alice <sip:alice@example.com>;tag=1928301774\n\
         Call-ID: a84b4c76e66710@pc33.example.com\n\
         CSeq: 314159 INVITE\n\
         {extra}Content-Length: 0\n\n"
    )
}

#[test]
fn compact_forms() {
    let m = ok("INVITE sip:bob@example.com SIP/2.0\n\
         v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1\n\
         V: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK0\n\
         f: <sip:alice@example.com>;tag=1\n\
         t: <sip:bob@example.com>\n\
         I: compact@pc33\n\
         CSeq: 1 INVITE\n\
         m: <sip:alice@pc33.example.com>\n\
         c: application/sdp\n\
         s: lunch\n\
         k: 100rel, timer\n\
         o: refer;id=3\n\
         r: <sip:carol@example.com>\n\
         x: 1800;refresher=uac\n\
         e: gzip\n\
         u: presence\n\
         b: <sip:referrer@example.com>\n\
         y: abc\n\
         l: 4\n\n\
         v=0\n");
    assert_eq!(m.list(HeaderName::Via).count(), 2);
    assert_eq!(m.from().tag(), Some("1"));
    assert_eq!(m.to().uri_text, "sip:bob@example.com");
    assert_eq!(m.call_id(), "compact@pc33");
    assert_eq!(m.contact().unwrap().uri_text, "sip:alice@pc33.example.com");
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(m.content_length(), Some(4));
    assert_eq!(m.header(HeaderName::Subject), Some("lunch"));
    assert_eq!(
        m.list(HeaderName::Supported).collect::<Vec<_>>(),
        ["100rel", "timer"]
    );
    assert_eq!(m.header(HeaderName::Event), Some("refer;id=3"));
    assert_eq!(
        m.header(HeaderName::ReferTo),
        Some("<sip:carol@example.com>")
    );
    assert_eq!(
        m.header(HeaderName::SessionExpires),
        Some("1800;refresher=uac")
    );
    // compact names without an enum variant still match their long names
    assert_eq!(m.headers_named("Content-Encoding").next(), Some("gzip"));
    assert_eq!(m.headers_named("allow-events").next(), Some("presence"));
    assert_eq!(
        m.headers_named("Referred-By").next(),
        Some("<sip:referrer@example.com>")
    );
    assert_eq!(m.headers_named("Identity").next(), Some("abc"));
    assert_eq!(m.headers_named("i").next(), Some("compact@pc33"));
    assert_eq!(HeaderName::expand_compact("E"), "Content-Encoding");
    assert_eq!(HeaderName::expand_compact("q"), "q");
}

#[test]
fn comma_separated_lists() {
    let m = ok(&invite(
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK2 , SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK3\n\
         Contact: \"Doe, John\" <sip:j@a.example.com;p=1,2>;q=0.5, <sip:j@b.example.com> ,sip:j@c.example.com;expires=60\n\
         Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\n\
         Route: <sip:p3.example.com;lr>\n\
         Allow: INVITE,ACK , BYE,CANCEL\n\
         X-Opaque: a, b, c\n",
    ));
    let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, "pc33.example.com");
    assert_eq!((vias[2].host, vias[2].port), ("2001:db8::1", Some(5070)));
    let contacts: Vec<_> = m.contacts().collect();
    assert_eq!(contacts.len(), 3);
    assert_eq!(contacts[0].display_name().unwrap(), "Doe, John");
    assert_eq!(contacts[0].uri_text, "sip:j@a.example.com;p=1,2");
    assert_eq!(contacts[0].params.value("q"), Some("0.5"));
    assert_eq!(contacts[2].uri_text, "sip:j@c.example.com");
    assert_eq!(contacts[2].params.value("expires"), Some("60"));
    let routes: Vec<_> = m.list(HeaderName::Route).collect();
    assert_eq!(
        routes,
        [
            "<sip:p1.example.com;lr>",
            "<sip:p2.example.com;lr>",
            "<sip:p3.example.com;lr>"
        ]
    );
    assert_eq!(
        m.list(HeaderName::Allow).collect::<Vec<_>>(),
        ["INVITE", "ACK", "BYE", "CANCEL"]
    );
    // unknown headers are carried verbatim
    assert_eq!(m.headers_named("x-opaque").next(), Some("a, b, c"));

    // lists have no empty elements; '*' stands alone
    for bad in [
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK2,,SIP/2.0/UDP b;branch=z9hG4bK4\n",
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK2,\n",
        "Contact: <sip:a@b>,\n",
        "Contact: *, <sip:a@b>\n",
        "Route: *\n",
        "Contact: <sip:a@b>;;q=1\n",
    ] {
        assert_eq!(parse(&invite(bad)).unwrap_err().status(), 400, "{bad}");
    }
    let star = ok(&invite("Contact: *\nExpires: 0\n"));
    assert!(star.contact().unwrap().star);
    assert_eq!(star.expires(), Some(0));
}

#[test]
fn line_folding() {
    let raw = "OPTIONS sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP\n  pc33.example.com\n\t;branch=z9hG4bK1\n\
         To:\n <sip:bob@example.com>\n\
         From: <sip:alice@example.com>\n   \t ;tag=7\n\
         Call-ID: fold@pc33\n\
         CSeq: 3\n OPTIONS\n\
         Subject: one\n two\n\tthree\n\
         Max-Forwards: 70\n\
         Content-Length: 11\n\n\
         a\n b\n\tc\n";
    let m = ok(raw);
    assert_eq!(
        m.top_via_str(),
        "SIP/2.0/UDP pc33.example.com ;branch=z9hG4bK1"
    );
    assert_eq!(m.top_via().unwrap().host, "pc33.example.com");
    assert_eq!(m.to().uri_text, "sip:bob@example.com");
    assert_eq!(m.from().tag(), Some("7"));
    assert_eq!(m.cseq().seq, 3);
    assert_eq!(m.cseq().method, Method::Options);
    assert_eq!(m.header(HeaderName::Subject), Some("one two three"));
    // the body is not unfolded
    assert_eq!(&m.body()[..], b"a\r\n b\r\n\tc\r\n");
    // unfolding removed every continuation from the header section
    let head_end = memchr::memmem::find(m.as_bytes(), b"\r\n\r\n").unwrap();
    let head = &m.as_bytes()[..head_end];
    assert!(!head.windows(3).any(|w| w == b"\r\n " || w == b"\r\n\t"));
    // a continuation line cannot follow the start line
    let bad = raw.replace("SIP/2.0\nVia", "SIP/2.0\n Via");
    assert_eq!(parse(&bad).unwrap_err().status(), 400);
}

#[test]
fn quoted_strings_with_escapes() {
    let m = ok(&invite(
        "Contact: \"Agent \\\"007\\\", the \\\\best\\\\ <;>\" <sip:a@pc33.example.com>;+sip.instance=\"<urn:uuid:1;2,3>\";expires=60\n\
         Reply-To: \"\" <sip:empty@example.com>\n",
    ));
    let c = m.contact().unwrap();
    assert_eq!(c.display, Some(r#""Agent \"007\", the \\best\\ <;>""#));
    assert_eq!(c.display_name().unwrap(), r#"Agent "007", the \best\ <;>"#);
    assert_eq!(c.params.value("+sip.instance"), Some("<urn:uuid:1;2,3>"));
    assert_eq!(c.params.value("expires"), Some("60"));
    assert_eq!(m.list(HeaderName::Contact).count(), 1);
    assert_eq!(m.from().display_name().unwrap(), "Alice");

    for bad in [
        "From: \"open <sip:a@b>;tag=1\n",
        "From: \"escaped end\\\" <sip:a@b>;tag=1\n",
        "From: <sip:a@b>;tag=\"unclosed\n",
    ] {
        let raw = invite("").replace("From: Alice <sip:alice@example.com>;tag=1928301774\n", bad);
        assert_eq!(parse(&raw).unwrap_err().status(), 400, "{bad}");
    }
}

#[test]
fn names_params_and_schemes_are_case_insensitive() {
    let m = ok("OPTIONS SIP:Bob@Example.COM;TRANSPORT=TCP sip/2.0\n\
         vIA: sip/2.0/udp pc33.example.com;BRANCH=z9hG4bK1;RPort\n\
         tO: <sIpS:bob@example.com>\n\
         FROM: <sip:alice@example.com>;TAG=abc\n\
         cALL-iD: case@pc33\n\
         cseq: 1 OPTIONS\n\
         MAX-FORWARDS: 70\n\
         content-LENGTH: 0\n\n");
    let ruri = m.request_uri().unwrap();
    assert_eq!(ruri.scheme, Scheme::Sip);
    assert_eq!(ruri.transport(), Some("TCP"));
    assert_eq!(m.request_uri_scheme(), Some("SIP"));
    let via = m.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK1"));
    assert_eq!(via.rport(), Some(None));
    assert!(via.is_rfc3261());
    assert_eq!(m.to().uri().unwrap().scheme, Scheme::Sips);
    assert_eq!(m.from().tag(), Some("abc"));
    assert_eq!(m.call_id(), "case@pc33");
    assert_eq!(m.max_forwards(), Some(70));
    let resp = ok("sip/2.0 200 ok\n\
         Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1\n\
         To: <sip:b@example.com>;tag=2\nFrom: <sip:a@example.com>;tag=1\n\
         Call-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    assert_eq!(resp.status(), Some(200));

    // Methods are case-sensitive: "invite" is an extension method...
    let ext = ok(&invite("")
        .replace("INVITE sip", "invite sip")
        .replace("314159 INVITE", "314159 invite"));
    assert_eq!(ext.method(), Some(Method::Other));
    assert_eq!(ext.method_str(), Some("invite"));
    // ...so it does not match a CSeq of INVITE.
    let mismatch = invite("").replace("INVITE sip", "invite sip");
    assert_eq!(parse(&mismatch), Err(ParseError::CSeqMismatch));
}

#[test]
fn sips_and_tel_uris() {
    let m = ok(&invite("")
        .replace(
            "INVITE sip:bob@example.com",
            "INVITE sips:bob:secret@example.com:5061;transport=tls;user=phone",
        )
        .replace(
            "To: Bob <sip:bob@example.com>",
            "To: <tel:+1-201-555-0123;phone-context=example.com>",
        ));
    let ruri = m.request_uri().unwrap();
    assert_eq!(ruri.scheme, Scheme::Sips);
    assert_eq!(
        (ruri.user, ruri.password, ruri.host, ruri.port),
        (Some("bob"), Some("secret"), "example.com", Some(5061))
    );
    assert_eq!(ruri.transport(), Some("tls"));
    assert_eq!(ruri.params.value("user"), Some("phone"));
    let to = m.to().uri().unwrap();
    assert_eq!(to.scheme, Scheme::Tel);
    assert_eq!(to.user, Some("+1-201-555-0123"));
    assert_eq!(to.params.value("phone-context"), Some("example.com"));

    let tel = ok(&invite("").replace("INVITE sip:bob@example.com", "INVITE tel:+15551234567"));
    assert_eq!(tel.request_uri().unwrap().scheme, Scheme::Tel);
    assert_eq!(tel.request_uri().unwrap().user, Some("+15551234567"));
    assert_eq!(tel.request_uri_scheme(), Some("tel"));

    for bad in [
        "INVITE tel: SIP/2.0",
        "INVITE sip: SIP/2.0",
        "INVITE sip:bob@ SIP/2.0",
        "INVITE sips:bob@example.com:99999 SIP/2.0",
        "INVITE sip:bob@exa mple.com SIP/2.0",
        "INVITE sip:bob@example.com?subject=x SIP/2.0",
        "INVITE :nothing SIP/2.0",
        "INVITE 1sip:bob@example.com SIP/2.0",
    ] {
        let raw = invite("").replace("INVITE sip:bob@example.com SIP/2.0", bad);
        assert_eq!(parse(&raw).unwrap_err().status(), 400, "{bad}");
    }
}

/// The examples of RFC 5118 ("SIP Torture Test Messages for IPv6"), §4.
#[test]
fn ipv6_rfc5118() {
    fn reg(ruri: &str, via: &str, contact: &str) -> String {
        format!(
            "REGISTER {ruri} SIP/2.0\n\
             To: sip:user@example.com\n\
             From: sip:user@example.com;tag=81x2\n\
             Via: {via}\n\
             Call-ID: SSG9559905523997077@hlau_4100\n\
             Max-Forwards: 70\n\
             Contact: {contact}\n\
             CSeq: 98176 REGISTER\n\
             Content-Length: 0\n\n"
        )
    }
    const VIA: &str = "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111";
    const CONTACT: &str = "\"Caller\" <sip:caller@[2001:db8::1]>";
    // §4.1 ipv6-good
    let m = ok(&reg("sip:[2001:db8::10]", VIA, CONTACT));
    assert_eq!(m.request_uri().unwrap().host, "2001:db8::10");
    assert_eq!(m.top_via().unwrap().host, "2001:db8::9:1");
    assert_eq!(m.contact().unwrap().uri().unwrap().host, "2001:db8::1");
    // §4.2 bad-inv-2: no brackets in the Request-URI
    assert_eq!(
        parse(&reg("sip:2001:db8::10", VIA, CONTACT)),
        Err(ParseError::BadRequestUri)
    );
    // §4.3 port-ambiguous: the last group is part of the address
    let m = ok(&reg("sip:[2001:db8::10:5070]", VIA, CONTACT));
    assert_eq!(m.request_uri().unwrap().host, "2001:db8::10:5070");
    assert_eq!(m.request_uri().unwrap().port, None);
    // §4.4 port-unambiguous
    let m = ok(&reg("sip:[2001:db8::10]:5070", VIA, CONTACT));
    assert_eq!(m.request_uri().unwrap().port, Some(5070));
    // §4.5 received with and without brackets (both accepted)
    for received in ["[2001:db8::9:255]", "2001:db8::9:255"] {
        let via = format!("SIP/2.0/UDP [2001:db8::9:1];received={received};branch=z9hG4bKas3-111");
        let m = ok(&reg("sip:[2001:db8::10]", &via, CONTACT));
        assert_eq!(m.top_via().unwrap().received(), Some(received));
    }
    // §4.7 several addresses: IPv4 and IPv6 Vias
    let via = "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144";
    let m = ok(&reg("sip:[2001:db8::10]", via, CONTACT));
    let hosts: Vec<_> = m.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(hosts, ["2001:db8::9:1", "192.0.2.1"]);
    assert_eq!(m.top_via().unwrap().port, Some(6050));
    // §4.8 IPv4-mapped IPv6 addresses
    let m = ok(&reg(
        "sip:user@[::ffff:192.0.2.128]",
        "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
        "<sip:caller@[::ffff:192.0.2.10]:19823>",
    ));
    assert_eq!(m.request_uri().unwrap().host, "::ffff:192.0.2.128");
    // §4.9 three colons is not an address; §4.10 two is
    assert_eq!(
        parse(&reg("sip:user@[2001:db8:::192.0.2.1]", VIA, CONTACT)),
        Err(ParseError::BadRequestUri)
    );
    let m = ok(&reg("sip:user@[2001:db8::192.0.2.1]", VIA, CONTACT));
    assert_eq!(m.request_uri().unwrap().host, "2001:db8::192.0.2.1");
    // unclosed or empty brackets
    for bad in [
        "sip:[2001:db8::10",
        "sip:[]",
        "sip:[2001:db8::10]5070",
        "sip:[zz::1]",
    ] {
        assert!(parse(&reg(bad, VIA, CONTACT)).is_err(), "{bad}");
    }
}

#[test]
fn multipart_bodies() {
    let body = "--unique-boundary-1\r\n\
         Content-Type: application/sdp\r\n\r\n\
         v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n\
         \r\n--unique-boundary-1\r\n\
         Content-Type: application/ISUP; version=nxv3; base=etsi121\r\n\
         Content-Disposition: signal; handling=optional\r\n\r\n\
         \x01\x00\x49\x00\x00\x03\x02\x00\x07\r\n\
         --unique-boundary-1--\r\n";
    let raw = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP gw.example.com;branch=z9hG4bK1\r\n\
         To: <sip:bob@example.com>\r\nFrom: <sip:gw@example.com>;tag=1\r\n\
         Call-ID: sipi@gw\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"unique-boundary-1\"\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let m = Message::parse(Bytes::from(raw)).unwrap();
    let b = multipart::boundary(m.content_type().unwrap()).unwrap();
    assert_eq!(b, "unique-boundary-1");
    let parts = multipart::split(&m.body(), b).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type(), Some("application/sdp"));
    assert_eq!(&parts[0].body[..], b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
    assert_eq!(
        parts[1].content_type(),
        Some("application/ISUP; version=nxv3; base=etsi121")
    );
    assert_eq!(
        parts[1].header("content-disposition"),
        Some("signal; handling=optional")
    );
    assert_eq!(&parts[1].body[..], b"\x01\x00\x49\x00\x00\x03\x02\x00\x07");
    // the parts share the message buffer
    let whole = m.as_bytes().as_ptr() as usize;
    let p = parts[1].body.as_ptr() as usize;
    assert!(p > whole && p < whole + m.as_bytes().len());

    assert_eq!(multipart::boundary("application/sdp"), None);
    assert_eq!(
        multipart::split(&Bytes::from_static(b"--x\r\n\r\nno end"), "x"),
        Err(ParseError::BadMultipart)
    );
}

#[test]
fn content_length_framing_for_streams() {
    let one = crlf(&invite("").replace(
        "Content-Length: 0\n",
        "Content-Type: text/plain\nContent-Length: 5\n",
    ))
    .replacen("\r\n\r\n", "\r\n\r\nhello", 1);
    let two = crlf(
        "OPTIONS sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK2\n\
         To: <sip:bob@example.com>\nFrom: <sip:alice@example.com>;tag=2\n\
         Call-ID: two@pc33\nCSeq: 2 OPTIONS\nMax-Forwards: 70\nl :  0\n\n",
    );
    // pipelined, with RFC 5626 keep-alives before and between
    let stream = format!("\r\n\r\n{one}\r\n{two}{one}");
    let mut buf = stream.as_bytes();
    let mut got = Vec::new();
    while let Some(n) = Message::frame_len(buf).unwrap() {
        got.push(Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap());
        buf = &buf[n..];
    }
    assert!(buf.is_empty());
    assert_eq!(got.len(), 3);
    assert_eq!(&got[0].body()[..], b"hello");
    assert_eq!(got[1].call_id(), "two@pc33");
    assert_eq!(&got[2].body()[..], b"hello");
    // every strict prefix of a message is incomplete, never an error
    for cut in 0..one.len() {
        assert_eq!(
            Message::frame_len(&one.as_bytes()[..cut]),
            Ok(None),
            "cut {cut}"
        );
    }
    assert_eq!(Message::frame_len(one.as_bytes()), Ok(Some(one.len())));
    // keep-alives alone
    assert_eq!(Message::frame_len(b"\r\n\r\n"), Ok(None));
    assert_eq!(Message::keepalive_len(b"\r\n\r\nINVITE"), 4);
    // a folded Content-Length is still found
    let folded = one.replace("Content-Length: 5", "Content-Length:\r\n 5");
    assert_eq!(
        Message::frame_len(folded.as_bytes()),
        Ok(Some(folded.len()))
    );
    // stream messages must carry Content-Length, once, well-formed
    let none = one.replace("Content-Length: 5\r\n", "");
    assert_eq!(
        Message::frame_len(none.as_bytes()),
        Err(ParseError::Missing("Content-Length"))
    );
    let twice = one.replace("Content-Length: 5", "Content-Length: 5\r\nl: 5");
    assert_eq!(
        Message::frame_len(twice.as_bytes()),
        Err(ParseError::Duplicate("Content-Length"))
    );
    let negative = one.replace("Content-Length: 5", "Content-Length: -5");
    assert_eq!(
        Message::frame_len(negative.as_bytes()),
        Err(ParseError::BadContentLength)
    );
    // a datagram shorter than its Content-Length is rejected
    let short = one.replace("hello", "hell");
    assert_eq!(
        Message::parse(Bytes::from(short)),
        Err(ParseError::BadContentLength)
    );
}

#[test]
fn oversize_is_413_or_513() {
    // a datagram beyond the maximum: 513
    let mut big = crlf(&invite("")).into_bytes();
    big.resize(MAX_MESSAGE_SIZE + 1, b'x');
    let e = Message::parse(Bytes::from(big)).unwrap_err();
    assert_eq!(
        (e.clone(), e.status()),
        (ParseError::TooLarge(MAX_MESSAGE_SIZE), 513)
    );
    // a stream header section that never ends: 513
    let endless = vec![b'a'; MAX_MESSAGE_SIZE + 1];
    assert_eq!(Message::frame_len(&endless).unwrap_err().status(), 513);
    // a declared body too large to accept: 413, known before reading it
    let huge = crlf(&invite("").replace("Content-Length: 0", "Content-Length: 70000"));
    let e = Message::frame_len(huge.as_bytes()).unwrap_err();
    assert_eq!(
        (e.clone(), e.status()),
        (ParseError::BodyTooLarge(70000), 413)
    );
    // absurd header counts: 513
    let many = invite(&"X-A: b\n".repeat(1100));
    assert_eq!(parse(&many).unwrap_err().status(), 513);
    // the largest acceptable message parses
    let pad = MAX_MESSAGE_SIZE - crlf(&invite("X-Pad: \n")).len();
    let fits = crlf(&invite(&format!("X-Pad: {}\n", "p".repeat(pad))));
    assert_eq!(fits.len(), MAX_MESSAGE_SIZE);
    assert!(Message::parse(Bytes::from(fits)).is_ok());
}

#[test]
fn unknown_methods_and_headers_are_carried() {
    let m = ok(&invite(
        "X-Trunk-Id: carrier-7\nP-Asserted-Identity: <sip:+15551234@example.com>\n",
    )
    .replace("INVITE sip", "FOOBAR sip")
    .replace("314159 INVITE", "314159 FOOBAR"));
    assert_eq!(m.method(), Some(Method::Other));
    assert_eq!(m.method_str(), Some("FOOBAR"));
    assert_eq!(m.headers_named("x-trunk-id").next(), Some("carrier-7"));
    assert_eq!(
        m.headers_named("P-Asserted-Identity").next(),
        Some("<sip:+15551234@example.com>")
    );
    assert_eq!(m.fields().count(), 9);
}

#[test]
fn start_line_faults() {
    for (line, status) in [
        ("INVITE sip:bob@example.com SIP/3.0", 505),
        ("INVITE sip:bob@example.com SIP/2.0 ", 400),
        ("INVITE  sip:bob@example.com SIP/2.0", 400),
        ("INVITE sip:bob@example.com", 400),
        ("INV\tITE sip:bob@example.com SIP/2.0", 400),
        ("INVITE sip:bob@example.com HTTP/1.1", 400),
        ("SIP/2.0 99 Too Low", 400),
        ("SIP/2.0 700 Too High", 400),
        ("SIP/2.0 2000 OK", 400),
        ("SIP/2.1 200 OK", 505),
    ] {
        let raw = invite("").replace("INVITE sip:bob@example.com SIP/2.0", line);
        assert_eq!(parse(&raw).unwrap_err().status(), status, "{line}");
    }
    // regression (found by tests/malformed.rs): a status line without the
    // space before the reason once underflowed computing the reason's span
    let bare = ok("SIP/2.0 200\n\
         Via: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:b@h>\nFrom: <sip:a@h>;tag=1\n\
         Call-ID: x\nCSeq: 1 BYE\n\n");
    assert_eq!((bare.status(), bare.reason()), (Some(200), Some("")));
    assert_eq!(
        Message::parse(Bytes::from_static(b"INVITE sip:a@b SIP/2.0\nVia: x\n\n")),
        Err(ParseError::Incomplete)
    );
    assert_eq!(
        Message::parse(Bytes::from_static(b"\xff\xfe\r\n\r\n")),
        Err(ParseError::NotUtf8)
    );
}
