//! A plain parse loop for profilers (callgrind, perf), on the benchmark
//! corpus:
//!
//!     cargo build --release -p sip-core --example parse_loop
//!     valgrind --tool=callgrind target/release/examples/parse_loop carrier_invite sip-core 20000
//!
//! Arguments: message (`register`, `carrier_invite`, `invite_4k`), parser
//! (`sip-core`, `rsip`), iterations. Each iteration parses and does the five
//! typed reads of the criterion bench.

use bytes::Bytes;

#[path = "../benches/support/corpus.rs"]
mod corpus;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("carrier_invite", String::as_str);
    let parser = args.get(2).map_or("sip-core", String::as_str);
    let n: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let (_, msg) = corpus::corpus()
        .into_iter()
        .find(|(name, _)| *name == which)
        .expect("message: register, carrier_invite or invite_4k");
    let m: &'static [u8] = Box::leak(msg.into_bytes().into_boxed_slice());
    let mut total = 0usize;
    for _ in 0..n {
        total += match parser {
            "rsip" => {
                let p = rsip::SipMessage::try_from(std::hint::black_box(m)).unwrap();
                corpus::rsip_typed(&p)
            }
            _ => {
                let p =
                    sip_core::Message::parse(Bytes::from_static(std::hint::black_box(m))).unwrap();
                corpus::ours_typed(&p)
            }
        };
    }
    println!("{total}");
}
