//! Keeps the load tooling from rotting: runs `scripts/load` (the same
//! command the README documents) at a small rate against this build's
//! binary and asserts that no call failed. Benchmarks report figures; this
//! test asserts behaviour only, never a timing.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `scripts/load ARGS --engine <this build> --json FILE`; returns the
/// JSON summary, panicking with the tool's output if it failed.
fn load(name: &str, args: &[&str]) -> serde_json::Value {
    // The profiles start an engine on the tool's fixed SIP port: one at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    support::require_sipp();
    let dir = std::env::temp_dir().join(format!(
        "switchboard-load-smoke-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("summary.json");
    let out = Command::new("python3")
        .arg(repo().join("scripts/load"))
        .args(args)
        .arg("--engine")
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--dir")
        .arg(dir.join("run"))
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run python3 scripts/load");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no summary ({e}):\n{text}")),
    )
    .unwrap_or_else(|e| panic!("summary is not JSON ({e}):\n{text}"));
    assert!(out.status.success(), "scripts/load {name} failed:\n{text}");
    summary
}

#[test]
fn cps_profile_at_20_cps_for_5_s_completes_every_call() {
    let s = load(
        "cps",
        &["cps", "--rate", "20", "--duration", "5", "--hold-ms", "500"],
    );
    assert_eq!(s["calls_failed"], 0, "{s:#}");
    assert_eq!(s["calls_ok"], 100, "{s:#}");
    assert_eq!(s["cdr_outcomes"]["completed"], 100, "{s:#}");
}

#[test]
fn hold_profile_keeps_20_calls_with_rtp() {
    let s = load(
        "hold",
        &[
            "hold", "--calls", "20", "--hold", "3", "--rate", "20", "--rtp",
        ],
    );
    assert_eq!(s["calls_failed"], 0, "{s:#}");
    assert_eq!(s["peak_concurrent_calls"], 20, "{s:#}");
    assert_eq!(s["cdr_outcomes"]["completed"], 20, "{s:#}");
    assert!(s["rtp_relayed"].as_u64().unwrap_or(0) > 0, "{s:#}");
}
