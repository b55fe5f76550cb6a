//! The parser's fast paths ([`Via::scan_field`], [`NameAddr::scan_one`],
//! `scan_params`) against the strict path they shortcut: whenever a fast
//! path accepts a value, the strict path accepts it too and finds the same
//! parts. (When a fast path declines, the strict path decides alone.)

use proptest::prelude::*;

use crate::name_addr::NameAddr;
use crate::split::split_commas_all;
use crate::via::Via;

/// Values assembled from the pieces these grammars are made of, plus the
/// bytes that break them.
fn value(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(pieces), 0..14).prop_map(|v| v.concat())
}

fn pick(pieces: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(pieces)
}

/// Lists of mostly well-formed elements, `element` of each, separated by
/// commas, with one random piece inserted somewhere now and then.
fn list(
    element: impl Strategy<Value = String>,
    noise: &'static [&'static str],
) -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((element, pick(&[",", " , ", ",\t", ",,", ", "])), 1..4),
        proptest::option::weighted(0.25, (any::<proptest::sample::Index>(), pick(noise))),
    )
        .prop_map(|(items, noise)| {
            let mut s = String::new();
            for (k, (item, sep)) in items.iter().enumerate() {
                if k > 0 {
                    s += sep;
                }
                s += item;
            }
            if let Some((at, piece)) = noise {
                let mut i = at.index(s.len() + 1);
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                s.insert_str(i, piece);
            }
            s
        })
}

const PARAMS: &[&str] = &[
    "",
    ";branch=z9hG4bK1",
    ";tag=1a2b",
    ";lr",
    ";rport",
    ";branch=z9hG4bK1",
    ";tag=1a2b",
    ";user=phone",
    ";branch=z9hG4bK1",
    ";BRANCH=z9hG4bK2",
    ";branch",
    ";rport",
    ";rport=5060",
    "; received = 192.0.2.1",
    ";tag=1a2b",
    ";TAG = \"q;v\"",
    ";tag",
    ";x=\"a,b\"",
    ";x=\"a\\\"b\"",
    ";x=\"open",
    ";x=",
    ";;",
    ";",
    ";lr",
    ";maddr=[2001:db8::1]",
    ";a=é",
];

fn params() -> impl Strategy<Value = String> {
    proptest::collection::vec(pick(PARAMS), 0..4).prop_map(|v| v.concat())
}

fn via_entry() -> impl Strategy<Value = String> {
    (
        pick(&[
            "SIP/2.0/UDP",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP",
            "sip/2.0/tcp",
            "SIP/2.0/",
            "SIP / 2.0 / TLS",
            "SIP/2.0/WS",
        ]),
        pick(&[" ", " ", " ", "  ", "\t", ""]),
        pick(&[
            "203.0.113.10",
            "203.0.113.10",
            "h.example",
            "h.example",
            "host_1",
            "[::1]",
            "",
            "h@x",
        ]),
        pick(&[
            "", "", ":5060", ":5060", ":65535", ":65536", ":", ":5x", " :5060",
        ]),
        pick(&["", " ", "\t"]),
        params(),
    )
        .prop_map(|(p, ws, h, port, ws2, params)| format!("{p}{ws}{h}{port}{ws2}{params}"))
}

fn addr() -> impl Strategy<Value = String> {
    (
        pick(&[
            "",
            "",
            "\"Display\" ",
            "\"Display\" ",
            "Bob ",
            "\"A\\\"B\" ",
            "Bob ",
            "Bob  Smith",
            "\"open ",
            "\"x\"",
            "a,b ",
        ]),
        pick(&["<", "<", "<", ""]),
        pick(&[
            "sip:", "sip:", "sip:", "sips:", "tel:", "1x:", "a+b.c-d:", "", "s p:",
        ]),
        pick(&[
            "alice@example.com",
            "alice@example.com",
            "alice@example.com",
            "a b",
            "+1;user=phone",
            "",
            "h;lr",
            "x\"y",
        ]),
        pick(&[">", ">", ">", ""]),
        pick(&["", " ", "\t"]),
        params(),
    )
        .prop_map(|(d, lt, scheme, rest, gt, ws, params)| {
            format!("{d}{lt}{scheme}{rest}{gt}{ws}{params}")
        })
}

const VIA_PIECES: &[&str] = &[
    "SIP/2.0/UDP ",
    "sip/2.0/tcp",
    "SIP/2.0/",
    "SIP /2.0/UDP",
    " ",
    "\t",
    "\x0c",
    "host",
    "h.example",
    "[::1]",
    ":",
    "5060",
    "99999",
    ";",
    "branch",
    "BRANCH",
    "=",
    "z9hG4bK",
    "\"",
    "\\",
    "\"a,b\"",
    ",",
    "<",
    "rport",
    "received",
    "192.0.2.1",
    "é",
];

const ADDR_PIECES: &[&str] = &[
    "\"Display\"",
    "\"",
    "\\",
    "Bob",
    " ",
    "\t",
    "\x0c",
    "<",
    ">",
    "sip:",
    "sips:",
    "tel:",
    "1x:",
    "a+b.c-d:",
    "alice@example.com",
    "@",
    "[::1]",
    ":5060",
    ";",
    "tag",
    "TAG",
    "=",
    "1a2b",
    "lr",
    "\"q;v\"",
    ",",
    "*",
    "?",
    "é",
];

fn strict_vias(value: &str) -> Option<Option<(&str, Via<'_>, Option<&str>)>> {
    let mut first = None;
    for item in split_commas_all(value) {
        let via = Via::parse(item).ok()?;
        if !via.params.0.is_empty() && !via.params.is_valid() {
            return None;
        }
        if first.is_none() {
            first = Some((item, via, via.params.value("branch")));
        }
    }
    Some(first)
}

fn strict_addr<'a>(value: &'a str) -> Option<(NameAddr<'a>, Option<&'a str>)> {
    let addr = NameAddr::parse(value, "To").ok()?;
    if addr.star
        || (!addr.params.0.is_empty() && !addr.params.is_valid())
        || crate::uri::Uri::scheme_of(addr.uri_text).is_none()
    {
        return None;
    }
    Some((addr, addr.params.value("tag")))
}

fn fast_addr_list(value: &str) -> bool {
    let b = value.as_bytes();
    let mut i = 0;
    loop {
        let Some((_, stop)) = NameAddr::scan_one(value, i, true) else {
            return false;
        };
        if stop == b.len() {
            return true;
        }
        i = crate::params::skip_ws(b, stop + 1);
        if i == b.len() {
            return false;
        }
    }
}

fn check_via(v: &str) {
    if let Some(fast) = Via::scan_field(v, true) {
        let (item, via) = fast.expect("a valid value has a first entry");
        let strict = strict_vias(v);
        let Some(Some((s_item, s_via, s_branch))) = strict else {
            panic!("fast path accepted {v:?}, strict path: {strict:?}");
        };
        assert_eq!((item, via), (s_item, s_via), "{v:?}");
        assert_eq!(via.branch(), s_branch, "{v:?}");
    }
}

fn check_addr_value(v: &str) {
    if let Some((addr, stop)) = NameAddr::scan_one(v, 0, false) {
        assert_eq!(stop, v.len());
        let strict = strict_addr(v);
        let Some((s_addr, s_tag)) = strict else {
            panic!("fast path accepted {v:?}, strict path refused it");
        };
        assert_eq!(addr, s_addr, "{v:?}");
        assert_eq!(addr.tag(), s_tag, "{v:?}");
    }
    if fast_addr_list(v) {
        for item in split_commas_all(v) {
            assert!(strict_addr(item).is_some(), "list {v:?}, item {item:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn via_fast_path_agrees_with_the_strict_path(
        v in prop_oneof![list(via_entry(), VIA_PIECES), value(VIA_PIECES)]
    ) {
        // values reach validation trimmed of spaces and tabs
        check_via(v.trim_matches([' ', '\t']));
    }

    #[test]
    fn name_addr_fast_path_agrees_with_the_strict_path(
        v in prop_oneof![list(addr(), ADDR_PIECES), value(ADDR_PIECES)]
    ) {
        check_addr_value(v.trim_matches([' ', '\t']));
    }
}

#[test]
fn fast_paths_take_the_common_shapes() {
    let (item, via) = Via::scan_field(
        "SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-1;rport , SIP/2.0/TCP h",
        true,
    )
    .unwrap()
    .unwrap();
    assert_eq!(item, "SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-1;rport");
    assert_eq!(
        (via.host, via.port, via.branch()),
        ("203.0.113.10", Some(5060), Some("z9hG4bK-1"))
    );
    for v in [
        "\"WIRELESS CALLER\" <sip:+14155550123@203.0.113.10;user=phone>;tag=as6f3a2b1c",
        "<sip:+18005550199@198.51.100.20;user=phone>",
        "Bob <sips:bob@example.com> ; tag = \"x\"",
    ] {
        assert!(NameAddr::scan_one(v, 0, false).is_some(), "{v}");
        check_addr_value(v);
    }
    assert!(fast_addr_list("<sip:a@b;lr>, <sip:c@d;lr>"));
    for v in [
        "SIP/2.0/UDP h;",
        "SIP/2.0/UDP h,",
        "SIP/2.0/UDP h;branch=1,,SIP/2.0/UDP h",
        "SIP/2.0/UDP [::1]",
    ] {
        assert!(Via::scan_field(v, true).is_none(), "{v}");
        check_via(v);
    }
}
