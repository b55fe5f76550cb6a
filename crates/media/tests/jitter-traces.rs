//! The adaptive jitter buffer against a fixed-delay buffer on the standard
//! deterministic traces. Prints the comparison table; asserts behaviour
//! (adaptation), not timings.

use std::time::Duration;

use media::jitter::{JitterConfig, PlayoutMode};
use media::netem::{emulate, simulate, standard_traces, TraceReport};

const PACKETS: usize = 9000; // 3 minutes

fn run(mode: PlayoutMode, cfg: &media::netem::NetemConfig) -> TraceReport {
    let (trace, lost) = emulate(cfg, PACKETS, Duration::from_millis(20));
    simulate(
        &trace,
        lost,
        PACKETS,
        JitterConfig {
            mode,
            ..Default::default()
        },
    )
}

#[test]
fn adaptive_vs_fixed_on_standard_traces() {
    println!(
        "{:<13} {:<14} {:>7} {:>7} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "trace", "buffer", "net%", "late%", "conc%", "mean ms", "p95 ms", "accel", "expand"
    );
    for (name, net) in standard_traces() {
        let adaptive = run(PlayoutMode::Adaptive { quantile: 0.97 }, &net);
        for (label, r) in [
            ("adaptive", adaptive.clone()),
            (
                "fixed-60ms",
                run(PlayoutMode::Fixed(Duration::from_millis(60)), &net),
            ),
            (
                "fixed-120ms",
                run(PlayoutMode::Fixed(Duration::from_millis(120)), &net),
            ),
        ] {
            println!(
                "{:<13} {:<14} {:>7.2} {:>7.2} {:>8.2} {:>8.1} {:>8.1} {:>6} {:>6}",
                name,
                label,
                r.net_loss_pct,
                r.late_pct,
                r.concealed_pct,
                r.mean_delay_ms,
                r.p95_delay_ms,
                r.accelerated,
                r.expanded
            );
        }
        // Behaviour: the adaptive buffer keeps late loss low on every trace
        // without holding audio longer than the worst conditions need.
        assert!(adaptive.late_pct < 4.0, "{name}: {adaptive:?}");
        assert!(adaptive.p95_delay_ms < 250.0, "{name}: {adaptive:?}");
    }
    // On a clean LAN the adaptive buffer adds almost no delay.
    let lan = run(
        PlayoutMode::Adaptive { quantile: 0.97 },
        &standard_traces()[0].1,
    );
    assert!(lan.mean_delay_ms < 15.0 && lan.late_pct < 1.0, "{lan:?}");
}
