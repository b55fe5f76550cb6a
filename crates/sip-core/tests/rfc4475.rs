//! RFC 4475 ("SIP Torture Test Messages") conformance gate.
//!
//! The 49 messages live in `tests/rfc4475/*.dat`, byte for byte as the RFC's
//! archive holds them. Each test names the RFC section it covers.
//!
//! - §3.1.1 valid messages: parse, and their fields read as the RFC says.
//! - §3.1.2 invalid messages: rejected with the right status (400; 505 for
//!   `badvers`); the invalid responses (`scalarlg`, `bigcode`) are rejected,
//!   which for a response means it is dropped. `baddate` may be accepted
//!   (RFC 4475 §3.1.2.12 allows it) and is.
//! - §3.2–3.4: the parser exposes what the transaction and application
//!   layers need to decide (scheme for 416, Require for 420, ...).

use bytes::Bytes;
use sip_core::{HeaderName, Message, Method, ParseError, Scheme, Via};

fn raw(name: &str) -> Bytes {
    let path = format!("{}/tests/rfc4475/{name}.dat", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn ok(name: &str) -> Message {
    Message::parse(raw(name)).unwrap_or_else(|e| panic!("{name} must parse: {e:?}"))
}

fn rejected(name: &str) -> ParseError {
    match Message::parse(raw(name)) {
        Ok(m) => panic!("{name} must be rejected, parsed as {m:?}"),
        Err(e) => e,
    }
}

/// Every file of the archive is covered by a test below.
#[test]
fn all_49_messages_are_present() {
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let n = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "dat")
        })
        .count();
    assert_eq!(n, 49);
}

// ---------------------------------------------------------------- §3.1.1

/// §3.1.1.1 wsinv: folding, odd whitespace, mixed case, compact forms.
#[test]
fn wsinv() {
    let m = ok("wsinv");
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(
        m.request_uri_str(),
        Some("sip:vivekg@chair-dnrc.example.com;unknownparam")
    );
    let ruri = m.request_uri().unwrap();
    assert_eq!(ruri.user, Some("vivekg"));
    assert!(ruri.params.has("unknownparam"));
    assert_eq!(m.to().uri_text, "sip:vivekg@chair-dnrc.example.com");
    assert_eq!(m.to().tag(), Some("1918181833n"));
    assert_eq!(m.from().display, Some(r#""J Rosenberg \\\"""#));
    assert_eq!(m.from().uri_text, "sip:jdrosen@example.com");
    assert_eq!(m.from().tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.call_id(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.cseq().seq, 9);
    assert_eq!(m.cseq().method, Method::Invite);
    let vias: Vec<Via> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport, vias[0].host, vias[0].branch()),
        ("UDP", "192.0.2.2", Some("390skdjuw"))
    );
    assert_eq!(
        (vias[1].transport, vias[1].host, vias[1].branch()),
        ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8"))
    );
    assert_eq!(
        (vias[2].transport, vias[2].host, vias[2].branch()),
        ("UDP", "192.168.255.111", Some("z9hG4bK30239"))
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("390skdjuw"));
    assert_eq!(m.header(HeaderName::Subject), Some(""));
    assert_eq!(
        m.headers_named("newfangledheader").next(),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        m.headers_named("UnknownHeaderWithUnusualValue").next(),
        Some(";;,,;;,;")
    );
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(
        m.header(HeaderName::Route),
        Some("<sip:services.example.com;lr;unknownwith=value;unknown-no-value>")
    );
    let c = m.contact().unwrap();
    assert_eq!(c.display, Some(r#""Quoted string \"\"""#));
    assert_eq!(c.uri_text, "sip:jdrosen@example.com");
    assert_eq!(c.params.value("newparam"), Some("newvalue"));
    assert!(c.params.has("secondparam"));
    assert_eq!(c.params.value("q"), Some("0.33"));
    assert_eq!(m.body().len(), 150);
    assert!(m.body().starts_with(b"v=0\r\n"));
}

/// §3.1.1.2 intmeth: the widest legal character ranges, extension method.
#[test]
fn intmeth() {
    let m = ok("intmeth");
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(m.method(), Some(Method::Other));
    assert_eq!(m.method_str(), Some(method));
    assert_eq!(m.cseq().method_str, method);
    assert_eq!(m.cseq().seq, 139122385);
    let ruri = m.request_uri().unwrap();
    assert_eq!(
        ruri.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(ruri.host, "example.com");
    assert_eq!(ruri.headers, None);
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(m.to().display, Some("\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\""));
    assert_eq!(
        m.to().uri().unwrap().user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    let from = m.from();
    assert_eq!(from.display, Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        from.params.value("fromParam''~+*_!.-%"),
        Some("\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}")
    );
    assert_eq!(m.call_id(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(m.max_forwards(), Some(255));
    assert_eq!(
        m.headers_named("extensionHeader-!.%*+_`'~").next(),
        Some("\u{feff}\u{5927}\u{505c}\u{96fb}")
    );
    assert!(m.body().is_empty());
}

/// §3.1.1.3 esc01: valid %-escapes in URIs.
#[test]
fn esc01() {
    let m = ok("esc01");
    let ruri = m.request_uri().unwrap();
    assert_eq!(ruri.user, Some("sips%3Auser%40example.com"));
    assert_eq!(ruri.user_decoded().unwrap(), "sips:user@example.com");
    assert_eq!(ruri.host, "example.net");
    assert_eq!(m.to().uri().unwrap().user_decoded().unwrap(), "user");
    assert_eq!(
        m.from().uri().unwrap().user_decoded().unwrap(),
        "I have spaces"
    );
    assert_eq!(m.call_id(), "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(m.content_type(), Some("application/sdp"));
    let c = m.contact().unwrap().uri().unwrap();
    assert_eq!(c.user_decoded().unwrap(), "caller");
    assert!(c.params.has("%6C%72"));
    assert_eq!(c.params.value("n%61me"), Some("v%61lue%25%34%31"));
    assert_eq!(m.body().len(), 150);
}

/// §3.1.1.4 escnull: escaped NULs in URIs are legal.
#[test]
fn escnull() {
    let m = ok("escnull");
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(
        m.to().uri().unwrap().user_decoded().unwrap(),
        "null-\0-null"
    );
    assert_eq!(m.from().tag(), Some("839923423"));
    let contacts: Vec<_> = m
        .contacts()
        .map(|c| c.uri().unwrap().user_decoded().unwrap().into_owned())
        .collect();
    assert_eq!(contacts, vec!["\0".to_string(), "\0\0".to_string()]);
    assert_eq!(m.content_length(), Some(0));
}

/// §3.1.1.5 esc02: '%' that is not an escape (method, header name, branch).
#[test]
fn esc02() {
    let m = ok("esc02");
    assert_eq!(m.method(), Some(Method::Other));
    assert_eq!(m.method_str(), Some("RE%47IST%45R"));
    assert_eq!(m.cseq().method_str, "RE%47IST%45R");
    assert_eq!(m.to().display, Some(r#""%Z%45""#));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));
    // C%6Fntact is an extension header, not Contact.
    assert_eq!(m.list(HeaderName::Contact).count(), 2);
    assert_eq!(
        m.headers_named("C%6Fntact").next(),
        Some("<sip:alias2@host2.example.com>")
    );
}

/// §3.1.1.6 lwsdisp: no LWS between display name and '<'.
#[test]
fn lwsdisp() {
    let m = ok("lwsdisp");
    assert_eq!(m.from().display, Some("caller"));
    assert_eq!(m.from().uri_text, "sip:caller@example.com");
    assert_eq!(m.from().tag(), Some("323"));
}

/// §3.1.1.7 longreq: long values, 34 Vias, unusual header-name spacing.
#[test]
fn longreq() {
    let m = ok("longreq");
    assert_eq!(m.list(HeaderName::Via).count(), 34);
    assert_eq!(m.top_via().unwrap().host, "sip33.example.com");
    let last = m.vias().last().unwrap().unwrap();
    assert_eq!(last.host, "host.example.com");
    assert_eq!(last.received(), Some("192.0.2.5"));
    assert!(last.branch().unwrap().len() > 100);
    assert!(m.to().display.unwrap().contains("extremeextreme"));
    assert!(m
        .to()
        .uri()
        .unwrap()
        .params
        .has("verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue"));
    assert_eq!(m.to().uri().unwrap().port, Some(6000));
    assert!(m.from().tag().unwrap().starts_with("12982982982"));
    assert!(m.from().params.has("unknownValuelessparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamname"));
    assert!(m.call_id().starts_with("longreq.onereally"));
    assert_eq!(m.cseq().seq, 3882340);
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.body().len(), 150);
}

/// §3.1.1.8 dblreq: a second request after Content-Length is ignored.
#[test]
fn dblreq() {
    let m = ok("dblreq");
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.call_id(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    assert!(m.body().is_empty());
    assert_eq!(m.contact().unwrap().uri_text, "sip:j.user@host.example.com");
}

/// §3.1.1.9 semiuri: ';' in the user part.
#[test]
fn semiuri() {
    let m = ok("semiuri");
    let ruri = m.request_uri().unwrap();
    assert_eq!(ruri.user, Some("user;par=u%40example.net"));
    assert_eq!(ruri.host, "example.com");
    assert!(ruri.params.0.is_empty());
    let accept: Vec<_> = m.list(HeaderName::Accept).collect();
    assert_eq!(accept.len(), 6);
    assert_eq!(accept[5], "message/sipfrag");
}

/// §3.1.1.10 transports: SCTP, TLS and unknown transports in Via.
#[test]
fn transports() {
    let m = ok("transports");
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
    assert_eq!(t, vec!["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert_eq!(m.call_id(), "transports.kijh4akdnaqjkwendsasfdj");
}

/// §3.1.1.11 mpart01: multipart/mixed body with a binary part.
#[test]
fn mpart01() {
    let m = ok("mpart01");
    assert_eq!(m.method(), Some(Method::Message));
    assert_eq!(m.body().len(), 553);
    let ct = m.content_type().unwrap();
    let boundary = sip_core::multipart::boundary(ct).unwrap();
    assert_eq!(boundary, "7a9cbec02ceef655");
    let parts = sip_core::multipart::split(&m.body(), boundary).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type(), Some("text/plain"));
    assert_eq!(&parts[0].body[..], b"Hello");
    assert_eq!(parts[1].content_type(), Some("application/octet-stream"));
    assert_eq!(parts[1].body[0], 0x30); // DER SEQUENCE
                                        // a DER SEQUENCE of 0x152 octets plus its 4-octet header
    assert_eq!(parts[1].body.len(), 0x152 + 4);
    assert_eq!(parts[1].header("content-transfer-encoding"), Some("binary"));
}

/// §3.1.1.12 unreason: UTF-8 reason phrase.
#[test]
fn unreason() {
    let m = ok("unreason");
    assert_eq!(m.status(), Some(200));
    assert!(m.reason().unwrap().starts_with("= 2**3 * 5**2 "));
    assert!(m
        .reason()
        .unwrap()
        .ends_with("\u{43f}\u{440}\u{43e}\u{441}\u{442}\u{43e}\u{435}"));
    assert_eq!(m.cseq().method, Method::Invite);
    assert_eq!(m.body().len(), 154);
}

/// §3.1.1.13 noreason: empty reason phrase.
#[test]
fn noreason() {
    let m = ok("noreason");
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(""));
    assert_eq!(m.to().tag(), Some("902jndnke3"));
}

// ---------------------------------------------------------------- §3.1.2

/// The status a UAS answers with; responses are only ever dropped.
fn status_of(name: &str) -> u16 {
    rejected(name).status()
}

#[test]
fn badinv01_extraneous_separators() {
    assert_eq!(rejected("badinv01"), ParseError::BadHeaderValue("Via"));
    assert_eq!(status_of("badinv01"), 400);
}

#[test]
fn clerr_content_length_too_large() {
    assert_eq!(rejected("clerr"), ParseError::BadContentLength);
    assert_eq!(status_of("clerr"), 400);
}

#[test]
fn ncl_negative_content_length() {
    assert_eq!(rejected("ncl"), ParseError::BadContentLength);
}

#[test]
fn scalar02_overlarge_request_scalars() {
    assert_eq!(rejected("scalar02"), ParseError::BadHeaderValue("CSeq"));
    assert_eq!(status_of("scalar02"), 400);
}

#[test]
fn scalarlg_overlarge_response_scalars_are_dropped() {
    assert_eq!(rejected("scalarlg"), ParseError::BadHeaderValue("CSeq"));
}

#[test]
fn quotbal_unterminated_quote() {
    assert_eq!(rejected("quotbal"), ParseError::BadHeaderValue("To"));
}

#[test]
fn ltgtruri_angle_brackets_around_request_uri() {
    assert_eq!(rejected("ltgtruri"), ParseError::BadRequestUri);
    assert_eq!(status_of("ltgtruri"), 400);
}

#[test]
fn lwsruri_whitespace_in_request_uri() {
    assert_eq!(rejected("lwsruri"), ParseError::BadStartLine);
    assert_eq!(status_of("lwsruri"), 400);
}

#[test]
fn lwsstart_multiple_spaces_in_request_line() {
    assert_eq!(rejected("lwsstart"), ParseError::BadStartLine);
    assert_eq!(status_of("lwsstart"), 400);
}

#[test]
fn trws_trailing_space_in_request_line() {
    assert_eq!(rejected("trws"), ParseError::BadStartLine);
    assert_eq!(status_of("trws"), 400);
}

#[test]
fn escruri_headers_in_request_uri() {
    assert_eq!(rejected("escruri"), ParseError::BadRequestUri);
}

/// RFC 4475 §3.1.2.12 lets a robust element accept the bad Date; we do,
/// and carry the field for whoever reads it.
#[test]
fn baddate_is_accepted() {
    let m = ok("baddate");
    assert_eq!(
        m.headers_named("Date").next(),
        Some("Fri, 01 Jan 2010 16:00:00 EST")
    );
}

#[test]
fn regbadct_addr_spec_with_headers_in_contact() {
    assert_eq!(rejected("regbadct"), ParseError::BadHeaderValue("Contact"));
}

#[test]
fn badaspec_spaces_inside_angle_brackets() {
    assert_eq!(rejected("badaspec"), ParseError::BadHeaderValue("To"));
}

#[test]
fn baddn_non_token_display_name() {
    assert_eq!(rejected("baddn"), ParseError::BadHeaderValue("From"));
}

#[test]
fn badvers_is_505() {
    assert_eq!(rejected("badvers"), ParseError::BadVersion);
    assert_eq!(status_of("badvers"), 505);
}

#[test]
fn mismatch01_cseq_method_mismatch() {
    assert_eq!(rejected("mismatch01"), ParseError::CSeqMismatch);
    assert_eq!(status_of("mismatch01"), 400);
}

/// RFC 4475 §3.1.2.18 accepts 400 (or 501) for this one.
#[test]
fn mismatch02_unknown_method_and_mismatch() {
    assert_eq!(rejected("mismatch02"), ParseError::CSeqMismatch);
}

#[test]
fn bigcode_response_is_dropped() {
    assert_eq!(rejected("bigcode"), ParseError::BadStatus);
}

// ---------------------------------------------------------------- §3.2

/// A branch that is only the magic cookie is still a branch.
#[test]
fn badbranch() {
    let m = ok("badbranch");
    let via = m.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK"));
    assert!(via.is_rfc3261());
}

// ---------------------------------------------------------------- §3.3

#[test]
fn insuf_missing_headers_is_400() {
    let e = rejected("insuf");
    assert!(matches!(e, ParseError::Missing(_)), "{e:?}");
    assert_eq!(e.status(), 400);
}

/// The engine answers 416: the scheme is exposed, no SIP URI is claimed.
#[test]
fn unkscm_unknown_request_uri_scheme() {
    let m = ok("unkscm");
    assert_eq!(m.request_uri_scheme(), Some("nobodyKnowsThisScheme"));
    assert!(m.request_uri().is_none());
    assert_eq!(
        m.request_uri_str(),
        Some("nobodyKnowsThisScheme:totallyopaquecontent")
    );
}

#[test]
fn novelsc_atypical_scheme() {
    let m = ok("novelsc");
    assert_eq!(m.request_uri_scheme(), Some("soap.beep"));
    assert!(m.request_uri().is_none());
}

/// Unknown schemes in To, From and Contact are carried, not rejected.
#[test]
fn unksm2_unknown_schemes_in_headers() {
    let m = ok("unksm2");
    assert_eq!(m.to().uri_text, "isbn:2983792873");
    assert!(m.to().uri().is_none());
    assert_eq!(m.from().uri_text, "http://www.example.com");
    assert_eq!(m.from().tag(), Some("3234233"));
    assert_eq!(m.contact().unwrap().uri_text, "name:John_Smith");
}

/// The engine answers 420 with Unsupported listing these.
#[test]
fn bext01_unknown_extensions_are_exposed() {
    let m = ok("bext01");
    let req: Vec<_> = m.list(HeaderName::Require).collect();
    assert_eq!(
        req,
        vec!["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let preq: Vec<_> = m.list(HeaderName::ProxyRequire).collect();
    assert_eq!(
        preq,
        vec!["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
}

/// The engine answers 415 with Accept.
#[test]
fn invut_unknown_content_type() {
    let m = ok("invut");
    assert_eq!(m.content_type(), Some("application/unknownformat"));
    assert_eq!(m.body().len(), 40);
}

/// The engine challenges (401): the unknown scheme is carried verbatim.
#[test]
fn regaut01_unknown_authorization_scheme() {
    let m = ok("regaut01");
    assert_eq!(
        m.header(HeaderName::Authorization),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
}

#[test]
fn multi01_repeated_single_value_headers_is_400() {
    let e = rejected("multi01");
    assert!(matches!(e, ParseError::Duplicate(_)), "{e:?}");
    assert_eq!(e.status(), 400);
}

#[test]
fn mcl01_repeated_content_length_is_400() {
    assert_eq!(rejected("mcl01"), ParseError::Duplicate("Content-Length"));
}

/// The transport layer must not send to the broadcast Via: it is exposed.
#[test]
fn bcast_broadcast_via_is_exposed() {
    let m = ok("bcast");
    assert_eq!(m.status(), Some(200));
    let hosts: Vec<_> = m.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(hosts, vec!["192.0.2.198", "255.255.255.255"]);
}

#[test]
fn zeromf_max_forwards_zero() {
    let m = ok("zeromf");
    assert_eq!(m.max_forwards(), Some(0));
}

/// addr-spec Contact: `;unknownparam` is a contact parameter.
#[test]
fn cparam01_contact_param() {
    let m = ok("cparam01");
    let c = m.contact().unwrap();
    assert_eq!(c.uri_text, "sip:+19725552222@gw1.example.net");
    assert!(c.params.has("unknownparam"));
}

/// name-addr Contact: `;unknownparam` is a URI parameter.
#[test]
fn cparam02_url_param() {
    let m = ok("cparam02");
    let c = m.contact().unwrap();
    assert!(c.params.0.is_empty());
    assert!(c.uri().unwrap().params.has("unknownparam"));
}

#[test]
fn regescrt_escaped_header_in_contact() {
    let m = ok("regescrt");
    let uri = m.contact().unwrap().uri().unwrap();
    assert_eq!(uri.headers, Some("Route=%3Csip:sip.example.com%3E"));
    assert_eq!(uri.host, "example.com");
}

/// The engine answers 406: Accept is exposed.
#[test]
fn sdp01_accept_lists_nothing_sendable() {
    let m = ok("sdp01");
    assert_eq!(
        m.list(HeaderName::Accept).collect::<Vec<_>>(),
        vec!["text/nobodyKnowsThis"]
    );
    assert_eq!(m.body().len(), 150);
}

// ---------------------------------------------------------------- §3.4

/// RFC 2543 syntax: no branch cookie, no Max-Forwards, no Content-Length.
#[test]
fn inv2543_is_processed() {
    let m = ok("inv2543");
    let via = m.top_via().unwrap();
    assert_eq!(via.branch(), None);
    assert!(!via.is_rfc3261());
    assert_eq!(m.max_forwards(), None);
    assert_eq!(m.content_length(), None);
    assert!(m.body().starts_with(b"v=0\r\n"));
    assert_eq!(m.body().len(), 105);
    // addr-spec: ";user=phone" belongs to the header, not the URI
    let to = m.to();
    assert_eq!(to.uri().unwrap().scheme, Scheme::Sip);
    assert_eq!(to.params.value("user"), Some("phone"));
    // name-addr: ";user=phone" is a URI parameter
    let from = m.from().uri().unwrap();
    assert_eq!(from.params.value("user"), Some("phone"));
    assert_eq!(
        m.header(HeaderName::RecordRoute),
        Some("<sip:UserB@example.com;maddr=ss1.example.com>")
    );
}

/// Every message, valid or not, framed as a stream would see it: the framer
/// never panics, and accepts exactly the valid ones with a Content-Length.
#[test]
fn every_message_survives_stream_framing() {
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = Message::frame_len(&data);
        for cut in 0..data.len() {
            let _ = Message::frame_len(&data[..cut]);
            let _ = Message::parse(Bytes::copy_from_slice(&data[..cut]));
        }
    }
}
