//! Outbound trunks: OPTIONS probes mark a silent trunk down and an
//! answering one up; a caller who waited too long overflows to a number,
//! failing over from a dead trunk to a live one; a trunk marked down is
//! skipped (no INVITE) until its probes are answered again.

mod support;

use std::net::UdpSocket;

use support::ua::Ua;
use support::*;

#[test]
fn overflow_to_a_number_fails_over_to_the_trunk_that_answers() {
    let base = port_block();
    // A port nobody answers on (bound, never read) and a far end that answers.
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let far = Ua::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], base)),
        "far-end",
    );
    let far_addr = far.sip.local_addr().unwrap();
    let toml = config(base, "").replace("t1 = \"100ms\"", "t1 = \"50ms\"")
        + &format!(
            r#"
[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]

[[trunk]]
name = "dead"
outbound = "udp:{dead}"
probe_interval = "60s"

[[trunk]]
name = "alive"
outbound = "udp:{far_addr}"
probe_interval = "60s"

[[queue]]
name = "support"
require = {{ english = 1 }}
max_wait = "1s"
overflow_number = "18005550100"
"#,
            dead = dead.local_addr().unwrap()
        );
    let e = Engine::start("trunks", base, &toml);
    let far_thread = std::thread::spawn(move || {
        far.answer();
        far.await_bye();
    });
    // Nobody is registered: after 1 s the caller overflows to the number.
    let caller = Ua::new(e.sip, "carrier");
    let (_, tag) = caller.call("5000");
    assert_eq!(caller.hang_up("5000", &tag), 200);
    far_thread.join().unwrap();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["agent"], "trunk:alive");
    assert_eq!(
        c["agents_tried"],
        serde_json::json!(["trunk:dead", "trunk:alive"])
    );
    // The dead trunk is marked down (its INVITE and its probe went unanswered).
    e.wait_until("dead trunk down", |s| {
        let t = s["trunks"].as_array().unwrap();
        t.iter().any(|t| t["name"] == "dead" && t["up"] == false)
            && t.iter().any(|t| t["name"] == "alive" && t["up"] == true)
    });
}

#[test]
fn a_down_trunk_is_skipped_until_it_answers_probes_again() {
    let base = port_block();
    let engine = std::net::SocketAddr::from(([127, 0, 0, 1], base));
    // `flaky` says nothing at first (its socket is not read), then answers.
    let flaky = Ua::new(engine, "flaky-end");
    let alive = Ua::new(engine, "alive-end");
    let (flaky_addr, alive_addr) = (
        flaky.sip.local_addr().unwrap(),
        alive.sip.local_addr().unwrap(),
    );
    let toml = config(base, "").replace("t1 = \"100ms\"", "t1 = \"50ms\"")
        + &format!(
            r#"
[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]

[[trunk]]
name = "flaky"
outbound = "udp:{flaky_addr}"
probe_interval = "500ms"

[[trunk]]
name = "alive"
outbound = "udp:{alive_addr}"
probe_interval = "500ms"

[[queue]]
name = "support"
require = {{ english = 1 }}
max_wait = "1s"
overflow_number = "18005550100"
"#
        );
    let e = Engine::start("trunk-recovery", base, &toml);
    let trunk_up = |name: &'static str, up: bool| {
        move |s: &serde_json::Value| {
            s["trunks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == name && t["up"] == up)
        }
    };
    // Its probes time out (64×T1): marked down before any call needs it.
    e.wait_until("flaky down", trunk_up("flaky", false));
    let alive_thread = std::thread::spawn(move || {
        alive.answer();
        alive.await_bye();
    });
    let caller = Ua::new(e.sip, "carrier");
    let (_, tag) = caller.call("5000");
    assert_eq!(caller.hang_up("5000", &tag), 200);
    alive_thread.join().unwrap();
    let c = &e.wait_cdrs(1)[0];
    // Down: skipped without an INVITE.
    assert_eq!(c["agents_tried"], serde_json::json!(["trunk:alive"]), "{c}");
    // It answers again: probed back up, and first in line once more.
    let flaky_thread = std::thread::spawn(move || {
        flaky.answer();
        flaky.await_bye();
    });
    e.wait_until("flaky up", trunk_up("flaky", true));
    let caller = Ua::new(e.sip, "carrier-2");
    let (_, tag) = caller.call("5000");
    assert_eq!(caller.hang_up("5000", &tag), 200);
    flaky_thread.join().unwrap();
    let c = &e.wait_cdrs(2)[1];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["agents_tried"], serde_json::json!(["trunk:flaky"]), "{c}");
}
