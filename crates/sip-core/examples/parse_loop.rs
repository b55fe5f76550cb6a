//! A plain parse loop for profilers (callgrind, perf), on the benchmark
//! corpus:
//!
//!     cargo build --release -p sip-core --example parse_loop
//!     valgrind --tool=callgrind target/release/examples/parse_loop carrier_invite sip-core 20000
//!
//! Arguments: message (`register`, `carrier_invite`, `invite_4k`), parser
//! (`sip-core`, `rsip`), iterations. Each iteration parses and does the five
//! typed reads of the criterion bench.
//!
//! It also prints the CPU time per iteration, read from
//! `/proc/thread-self/stat` (user + system ticks): unlike criterion's wall
//! clock, it does not count the time the thread waits for a core, so it
//! stays meaningful on a loaded machine. Use a million iterations or more
//! (the tick is 10 ms).

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
    let cpu_before = cpu_ticks();
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
    let ticks = cpu_ticks().zip(cpu_before).map(|(a, b)| a - b);
    match ticks {
        Some(t) if n > 0 => {
            // USER_HZ is 100 on Linux
            let ns = t as f64 * 10_000_000.0 / n as f64;
            println!(
                "{which} {parser}: {ns:.0} ns CPU per iteration ({n} iterations, checksum {total})"
            );
        }
        _ => println!("checksum {total}"),
    }
}

/// utime + stime of this thread, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // fields 14 and 15 of stat(5), counted from the state field (3)
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}
