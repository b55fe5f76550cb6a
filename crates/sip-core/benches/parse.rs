//! Parser benchmark: sip-core against `rsip` on the same messages.
//!
//!     cargo bench -p sip-core --bench parse
//!
//! Three messages (a small REGISTER, a typical ~1.1 kB carrier INVITE with
//! SDP, a ~4 kB INVITE with many Via and Record-Route fields), each timed
//! as "parse" and as "parse + 5 typed reads" (top Via branch, From tag, To
//! URI, Call-ID, CSeq), the work a transaction layer does on every message.
//! Before timing, it prints which RFC 4475 messages each parser accepts.
//! Results and the machine they ran on: `crates/sip-core/BENCH.md`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsip::prelude::*;

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{ours_typed, rsip_typed};

/// Which RFC 4475 messages (and corpus messages) each parser accepts.
fn report_acceptance(corpus: &[(&str, String)]) {
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    eprintln!("| message | sip-core | rsip |");
    eprintln!("|---|---|---|");
    let verdict = |ok: bool| if ok { "accept" } else { "reject" };
    for (name, msg) in corpus {
        let ours = sip_core::Message::parse(Bytes::from(msg.clone())).is_ok();
        let theirs = rsip::SipMessage::try_from(msg.as_bytes())
            .map(|m| rsip_typed_ok(&m))
            .unwrap_or(false);
        eprintln!("| {name} | {} | {} |", verdict(ours), verdict(theirs));
    }
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let ours = sip_core::Message::parse(Bytes::from(data.clone()));
        let theirs = rsip::SipMessage::try_from(&data[..]);
        eprintln!(
            "| rfc4475/{} | {} | {} |",
            f.file_stem().unwrap().to_string_lossy(),
            match ours {
                Ok(_) => "accept".to_string(),
                Err(e) => format!("reject {}", e.status()),
            },
            match theirs {
                Ok(m) if rsip_typed_ok(&m) => "accept",
                Ok(_) => "accept (typed headers fail)",
                Err(_) => "reject",
            }
        );
    }
}

fn rsip_typed_ok(m: &rsip::SipMessage) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        m.via_header().ok().and_then(|v| v.typed().ok()).is_some()
            && m.from_header().ok().and_then(|v| v.typed().ok()).is_some()
            && m.to_header().ok().and_then(|v| v.typed().ok()).is_some()
            && m.call_id_header().is_ok()
            && m.cseq_header().ok().and_then(|v| v.typed().ok()).is_some()
    }))
    .unwrap_or(false)
}

fn bench(c: &mut Criterion) {
    let corpus = corpus::corpus();
    if std::env::var_os("SIP_BENCH_NO_REPORT").is_none() {
        for (name, m) in &corpus {
            eprintln!("{name}: {} bytes", m.len());
        }
        report_acceptance(&corpus);
    }
    let mut g = c.benchmark_group("parse");
    for (name, msg) in &corpus {
        let bytes: &'static [u8] = Box::leak(msg.clone().into_bytes().into_boxed_slice());
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("sip-core", name), &bytes, |b, &m| {
            b.iter(|| sip_core::Message::parse(Bytes::from_static(black_box(m))).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("rsip", name), &bytes, |b, &m| {
            b.iter(|| rsip::SipMessage::try_from(black_box(m)).unwrap())
        });
    }
    g.finish();
    let mut g = c.benchmark_group("parse+5typed");
    for (name, msg) in &corpus {
        let bytes: &'static [u8] = Box::leak(msg.clone().into_bytes().into_boxed_slice());
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("sip-core", name), &bytes, |b, &m| {
            b.iter(|| {
                let msg = sip_core::Message::parse(Bytes::from_static(black_box(m))).unwrap();
                ours_typed(&msg)
            })
        });
        g.bench_with_input(BenchmarkId::new("rsip", name), &bytes, |b, &m| {
            b.iter(|| {
                let msg = rsip::SipMessage::try_from(black_box(m)).unwrap();
                rsip_typed(&msg)
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("print");
    for (name, msg) in &corpus {
        let parsed = sip_core::Message::parse(Bytes::from(msg.clone())).unwrap();
        g.bench_function(BenchmarkId::new("sip-core", name), |b| {
            b.iter(|| black_box(&parsed).to_bytes())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
