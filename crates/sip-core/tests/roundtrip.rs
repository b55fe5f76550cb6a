//! Round trips: generated messages → text → parse gives the generated
//! fields; parse → print → parse gives the same fields; printing is stable
//! (print(parse(print(m))) == print(m)).

use bytes::Bytes;
use proptest::prelude::*;
use sip_core::{HeaderName, Message};

#[derive(Debug, Clone)]
struct Addr {
    display: Option<String>,
    uri: String,
    tag: Option<String>,
}

#[derive(Debug, Clone)]
struct Gen {
    /// `Some(status)` for a response.
    status: Option<u16>,
    method: String,
    ruri: String,
    reason: String,
    vias: Vec<(String, String, String)>,
    from: Addr,
    to: Addr,
    call_id: String,
    cseq: u32,
    max_forwards: Option<u8>,
    contacts: Vec<Addr>,
    subject: Vec<String>,
    extensions: Vec<(String, String)>,
    body: Vec<u8>,
    compact: bool,
    fold: bool,
    upper: bool,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,10}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,4}){0,2}",
        (1u8..=254, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        prop::sample::select(vec![
            "[2001:db8::1]",
            "[::1]",
            "[::ffff:192.0.2.1]",
            "[2001:db8:0:0:1:0:0:1]"
        ])
        .prop_map(str::to_string),
    ]
}

fn uri() -> impl Strategy<Value = String> {
    let sip = (
        prop::sample::select(vec!["sip", "sips", "SIP"]),
        prop::option::of("[a-z0-9+._-]{1,8}"),
        host(),
        prop::option::of(1u16..),
        prop::collection::vec((token(), prop::option::of(token())), 0..3),
    )
        .prop_map(|(scheme, user, host, port, params)| {
            let mut s = format!("{scheme}:");
            if let Some(u) = user {
                s += &u;
                s.push('@');
            }
            s += &host;
            if let Some(p) = port {
                s += &format!(":{p}");
            }
            for (n, v) in params {
                s.push(';');
                s += &n;
                if let Some(v) = v {
                    s.push('=');
                    s += &v;
                }
            }
            s
        });
    prop_oneof![
        4 => sip,
        1 => "\\+[0-9]{4,12}(;phone-context=[a-z]{1,8}\\.com)?".prop_map(|n| format!("tel:{n}")),
    ]
}

fn display() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[A-Za-z0-9.!%*_+`'~-]{1,6}( [A-Za-z0-9.!%*_+`'~-]{1,6}){0,2}".prop_map(Some),
        // quoted, with characters that need escaping escaped
        "[A-Za-z ,;<>@:\"\\\\é]{0,12}".prop_map(|s| {
            let escaped: String = s
                .chars()
                .flat_map(|c| match c {
                    '"' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            Some(format!("\"{escaped}\""))
        }),
    ]
}

fn addr(tag: bool) -> impl Strategy<Value = Addr> {
    (display(), uri(), prop::option::of(token()), any::<bool>()).prop_map(
        move |(display, uri, t, angle)| Addr {
            // an addr-spec cannot carry URI parameters, so use <> then
            display: if angle || uri.contains(';') || display.is_some() {
                display.or(Some(String::new()))
            } else {
                None
            },
            uri,
            tag: if tag { t } else { None },
        },
    )
}

fn print_addr(a: &Addr) -> String {
    let mut s = match &a.display {
        Some(d) if d.is_empty() => format!("<{}>", a.uri),
        Some(d) => format!("{d} <{}>", a.uri),
        None => a.uri.clone(),
    };
    if let Some(t) = &a.tag {
        s += ";tag=";
        s += t;
    }
    s
}

fn gen() -> impl Strategy<Value = Gen> {
    let head = (
        prop::option::of(100u16..700),
        prop::sample::select(vec![
            "INVITE", "ACK", "BYE", "OPTIONS", "REGISTER", "INFO", "X-EXT", "notify",
        ]),
        uri(),
        "[ -~]{0,20}",
        prop::collection::vec(
            (
                prop::sample::select(vec!["UDP", "TCP", "TLS", "WS", "SCTP"]),
                host(),
                "z9hG4bK[A-Za-z0-9.!%*_+`'~-]{1,12}",
            ),
            1..4,
        ),
    );
    let dialog = (
        addr(true),
        addr(true),
        "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,20}(@[a-z0-9.]{1,10})?",
        0u32..(1 << 31),
        prop::option::of(any::<u8>()),
        prop::collection::vec(addr(false), 0..3),
    );
    let rest = (
        prop::collection::vec("[A-Za-z0-9]{1,8}", 0..4),
        prop::collection::vec(
            ("X-[A-Za-z0-9-]{1,10}", "([!-~é☎]([ -~é]{0,20}[!-~])?)?"),
            0..4,
        ),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    );
    (head, dialog, rest).prop_map(
        |(
            (status, method, ruri, reason, vias),
            (from, to, call_id, cseq, max_forwards, contacts),
            (subject, extensions, body, compact, fold, upper),
        )| Gen {
            status,
            method: method.to_string(),
            ruri,
            reason: reason.trim_start().to_string(),
            vias: vias
                .into_iter()
                .map(|(t, h, b)| (t.to_string(), h, b))
                .collect(),
            from,
            to,
            call_id,
            cseq,
            max_forwards,
            contacts,
            subject,
            extensions,
            body,
            compact,
            fold,
            upper,
        },
    )
}

fn render(g: &Gen) -> Vec<u8> {
    let name = |long: &str, short: &str| {
        let n = if g.compact { short } else { long };
        if g.upper {
            n.to_ascii_uppercase()
        } else {
            n.to_string()
        }
    };
    let mut s = match g.status {
        Some(code) => format!("SIP/2.0 {code} {}\r\n", g.reason),
        None => format!("{} {} SIP/2.0\r\n", g.method, g.ruri),
    };
    let vias: Vec<String> = g
        .vias
        .iter()
        .map(|(t, h, b)| format!("SIP/2.0/{t} {h};branch={b}"))
        .collect();
    // first Via alone, the others as one comma list
    s += &format!("{}: {}\r\n", name("Via", "v"), vias[0]);
    if vias.len() > 1 {
        s += &format!("{}: {}\r\n", name("Via", "v"), vias[1..].join(", "));
    }
    s += &format!("{}: {}\r\n", name("From", "f"), print_addr(&g.from));
    s += &format!("{}: {}\r\n", name("To", "t"), print_addr(&g.to));
    s += &format!("{}: {}\r\n", name("Call-ID", "i"), g.call_id);
    s += &format!("CSeq: {} {}\r\n", g.cseq, g.method);
    if let Some(mf) = g.max_forwards {
        s += &format!("Max-Forwards: {mf}\r\n");
    }
    if !g.contacts.is_empty() {
        let c: Vec<_> = g.contacts.iter().map(print_addr).collect();
        s += &format!("{}: {}\r\n", name("Contact", "m"), c.join(","));
    }
    if !g.subject.is_empty() {
        let sep = if g.fold { "\r\n \t" } else { " " };
        s += &format!("{}: {}\r\n", name("Subject", "s"), g.subject.join(sep));
    }
    for (n, v) in &g.extensions {
        s += &format!("{n}: {v}\r\n");
    }
    s += &format!("{}: {}\r\n\r\n", name("Content-Length", "l"), g.body.len());
    let mut out = s.into_bytes();
    out.extend_from_slice(&g.body);
    out
}

/// Field list with names made canonical, for comparing two parses.
/// Content-Length is left out: printing always writes one (a datagram may
/// omit it), and the bodies are compared instead.
fn canonical_fields(m: &Message) -> Vec<(String, String)> {
    m.header_fields()
        .filter(|(kind, _, _)| *kind != HeaderName::ContentLength)
        .map(|(kind, name, value)| {
            let n = kind
                .as_str()
                .unwrap_or_else(|| HeaderName::expand_compact(name));
            (n.to_ascii_lowercase(), value.to_string())
        })
        .collect()
}

fn same_message(a: &Message, b: &Message) {
    assert_eq!(canonical_fields(a), canonical_fields(b));
    assert_eq!(a.start_line(), b.start_line());
    assert_eq!(a.method_str(), b.method_str());
    assert_eq!(a.request_uri_str(), b.request_uri_str());
    assert_eq!(a.reason(), b.reason());
    assert_eq!(a.body(), b.body());
    assert_eq!(a.call_id(), b.call_id());
    assert_eq!(a.cseq(), b.cseq());
    assert_eq!(a.top_via(), b.top_via());
    assert_eq!(a.from(), b.from());
    assert_eq!(a.to(), b.to());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_messages_parse_to_their_fields(g in gen()) {
        let raw = render(&g);
        let m = Message::parse(Bytes::from(raw.clone()))
            .unwrap_or_else(|e| panic!("{e:?}\n{}", String::from_utf8_lossy(&raw)));
        match g.status {
            Some(code) => {
                prop_assert_eq!(m.status(), Some(code));
                prop_assert_eq!(m.reason(), Some(g.reason.as_str()));
            }
            None => {
                prop_assert_eq!(m.method_str(), Some(g.method.as_str()));
                prop_assert_eq!(m.request_uri_str(), Some(g.ruri.as_str()));
            }
        }
        prop_assert_eq!(m.call_id(), g.call_id.as_str());
        prop_assert_eq!(m.cseq().seq, g.cseq);
        prop_assert_eq!(m.cseq().method_str, g.method.as_str());
        let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
        prop_assert_eq!(vias.len(), g.vias.len());
        for (v, (t, h, b)) in vias.iter().zip(&g.vias) {
            prop_assert_eq!(v.transport, t.as_str());
            prop_assert_eq!(v.host, h.trim_start_matches('[').trim_end_matches(']'));
            prop_assert_eq!(v.branch(), Some(b.as_str()));
        }
        for (parsed, want) in [(m.from(), &g.from), (m.to(), &g.to)] {
            prop_assert_eq!(parsed.uri_text, want.uri.as_str());
            prop_assert_eq!(parsed.tag(), want.tag.as_deref());
            let display = want.display.as_deref().filter(|d| !d.is_empty());
            prop_assert_eq!(parsed.display, display);
        }
        prop_assert_eq!(m.max_forwards(), g.max_forwards.map(u32::from));
        let contacts: Vec<_> = m.contacts().map(|c| c.uri_text.to_string()).collect();
        let want: Vec<_> = g.contacts.iter().map(|c| c.uri.clone()).collect();
        prop_assert_eq!(contacts, want);
        if !g.subject.is_empty() {
            let subject = g.subject.join(" ");
            prop_assert_eq!(m.header(HeaderName::Subject), Some(subject.as_str()));
        }
        for (n, v) in &g.extensions {
            prop_assert!(m.headers_named(n).any(|x| x == v.as_str()));
        }
        prop_assert_eq!(&m.body()[..], &g.body[..]);

        // print → parse → same fields; print again → same bytes
        let printed = m.to_bytes();
        let again = Message::parse(printed.clone()).unwrap();
        same_message(&m, &again);
        prop_assert_eq!(again.to_bytes(), printed);
    }

    /// Any input that parses, however odd, prints to a stable canonical form.
    #[test]
    fn parse_print_parse_is_stable(seed in 0usize..49, at in any::<prop::sample::Index>(),
                                   insert in "[ -~\t]{0,6}") {
        let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut data = std::fs::read(&files[seed]).unwrap();
        let i = at.index(data.len() + 1);
        data.splice(i..i, insert.bytes());
        if let Ok(m) = Message::parse(Bytes::from(data)) {
            let printed = m.to_bytes();
            let again = Message::parse(printed.clone()).unwrap();
            same_message(&m, &again);
            prop_assert_eq!(again.to_bytes(), printed);
        }
    }
}

/// Every valid RFC 4475 message round-trips.
#[test]
fn rfc4475_messages_round_trip() {
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(m) = Message::parse(Bytes::from(data)) {
            let printed = m.to_bytes();
            let again = Message::parse(printed.clone()).unwrap();
            same_message(&m, &again);
            assert_eq!(again.to_bytes(), printed);
            n += 1;
        }
    }
    assert_eq!(n, 28);
}
