//! Logs an operator can follow a call through: with `--log-json`, every
//! line the engine writes about a call carries its Call-ID and queue.

mod support;

use support::ua::Ua;
use support::*;

#[test]
fn every_log_line_about_a_call_carries_its_call_id_and_queue() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE);
    let e = Engine::start_with("logging", base, &toml, &["--log-json"]);
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let t = std::thread::spawn(move || {
        agent.answer();
        agent.await_bye();
    });
    let caller = Ua::new(e.sip, "carrier");
    let (_, tag) = caller.call("5000");
    assert_eq!(caller.hang_up("5000", &tag), 200);
    t.join().unwrap();
    e.wait_cdrs(1);
    let call_id = e.cdrs()[0]["call_id"].as_str().unwrap().to_string();
    let lines: Vec<serde_json::Value> = e
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "JSON log lines");
    let about_the_call: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            let m = l["fields"]["message"].as_str().unwrap_or("");
            ["ringing agent", "agent answered", "call ended"]
                .iter()
                .any(|k| m.contains(k))
        })
        .collect();
    assert!(about_the_call.len() >= 3, "{about_the_call:?}");
    for l in about_the_call {
        assert_eq!(l["span"]["call_id"], call_id.as_str(), "{l}");
        assert_eq!(l["span"]["queue"], "support", "{l}");
    }
}
