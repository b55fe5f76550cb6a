//! The first call end to end, against the real binary with SIPp as carrier
//! and as agent phones (issue: "First call end to end").

mod support;

use support::*;

fn start(name: &str, extra: &str) -> Engine {
    require_sipp();
    let base = port_block();
    Engine::start(
        name,
        base,
        &config(base, &format!("{DEFAULT_TRUNK_AND_QUEUE}{extra}")),
    )
}

fn relayed(cdr: &serde_json::Value, dir: &str) -> u64 {
    cdr["rtp"][dir]
        .as_u64()
        .unwrap_or_else(|| panic!("no rtp.{dir} in {cdr}"))
}

#[test]
fn completed_call_with_audio_both_ways_caller_hangs_up() {
    let e = start("completed", "");
    let phone_port = e.base + 20;
    register(&e, "1001", "pw1001", phone_port);
    e.wait_registered(1);
    let agent = phone(&e, "agent-answer.xml", phone_port, &["-rtp_echo"]);
    carrier(&e, "carrier-call.xml").args(["-d", "3000"]).run();
    agent.wait_ok();
    let cdrs = e.wait_cdrs(1);
    assert_eq!(cdrs.len(), 1, "{}", e.log());
    let c = &cdrs[0];
    assert_eq!(c["outcome"], "completed");
    assert_eq!(c["hangup_by"], "caller");
    assert_eq!(c["queue"], "support");
    assert_eq!(c["agent"], "1001");
    assert!(c["answered"].is_string() && c["bridged"].is_string());
    // The pcap holds 100 packets; the agent echoes what it hears.
    assert!(relayed(c, "relayed_a_to_b") >= 90, "{c}");
    assert!(relayed(c, "relayed_b_to_a") >= 90, "{c}");
    // While queued and ringing, the caller heard music.
    assert!(c["rtp"]["a"]["played"].as_u64().unwrap() > 0, "{c}");
    assert_ports_freed(&e);
}

/// Every RTP port went back to the pool and no call is left behind.
fn assert_ports_freed(e: &Engine) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let s = e.status();
        if s["media"]["ports_in_use"] == 0 && s["calls"].as_array().unwrap().is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ports or calls left: {s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn agent_hangs_up_first() {
    let e = start("agent-bye", "");
    let phone_port = e.base + 20;
    register(&e, "1001", "pw1001", phone_port);
    e.wait_registered(1);
    let agent = phone(
        &e,
        "agent-answer-hangup.xml",
        phone_port,
        &["-rtp_echo", "-d", "1500"],
    );
    carrier(&e, "carrier-wait-bye.xml").run();
    agent.wait_ok();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed");
    assert_eq!(c["hangup_by"], "agent");
    assert_eq!(c["agent"], "1001");
}

#[test]
fn caller_cancels_while_queued() {
    let e = start("cancel-queued", "");
    carrier(&e, "carrier-cancel.xml").args(["-d", "1000"]).run();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "abandoned");
    assert_eq!(c["hangup_by"], "caller");
    assert_eq!(c["sip_status"], 487);
    assert!(c["agent"].is_null());
    assert!(
        c["rtp"]["a"]["played"].as_u64().unwrap() > 0,
        "music while queued: {c}"
    );
    assert_ports_freed(&e);
}

#[test]
fn caller_cancels_while_agent_rings() {
    let e = start("cancel-ringing", "");
    let phone_port = e.base + 20;
    register(&e, "1001", "pw1001", phone_port);
    e.wait_registered(1);
    // The phone only succeeds if the engine CANCELs its INVITE.
    let agent = phone(&e, "agent-noanswer.xml", phone_port, &[]);
    carrier(&e, "carrier-cancel.xml").args(["-d", "1000"]).run();
    agent.wait_ok();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "abandoned");
    assert_eq!(c["agents_tried"], serde_json::json!(["1001"]));
    assert_ports_freed(&e);
}

fn next_agent_after(first_scenario: &str, name: &str) {
    let e = start(name, "");
    let (p1, p2) = (e.base + 20, e.base + 30);
    // 1001 registers first, so it has been idle longest and is rung first.
    register(&e, "1001", "pw1001", p1);
    e.wait_registered(1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    register(&e, "1002", "pw1002", p2 + 5);
    e.wait_registered(2);
    let first = phone(&e, first_scenario, p1, &[]);
    let second = phone(&e, "agent-answer.xml", p2 + 5, &["-rtp_echo"]);
    carrier(&e, "carrier-call.xml").args(["-d", "1000"]).run();
    first.wait_ok();
    second.wait_ok();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["agent"], "1002");
    assert_eq!(c["agents_tried"], serde_json::json!(["1001", "1002"]));
    assert_ports_freed(&e);
}

#[test]
fn no_answer_goes_to_the_next_agent() {
    next_agent_after("agent-noanswer.xml", "noanswer");
}

#[test]
fn busy_goes_to_the_next_agent() {
    next_agent_after("agent-busy.xml", "busy");
}

#[test]
fn unknown_number_gets_404() {
    let e = start("404", "");
    e.sipp("carrier-expect-404.xml")
        .args([
            "-s",
            "9999",
            "-p",
            &(e.base + 40).to_string(),
            "-mp",
            &(e.base + 50).to_string(),
        ])
        .run();
    assert_eq!(e.status()["counters"]["invite_rejected"]["404"], 1);
}

#[test]
fn disallowed_source_gets_403() {
    require_sipp();
    let base = port_block();
    let toml = config(
        base,
        "[[trunk]]\nname = \"only-one\"\nallow = [\"127.0.0.1/32\"]\n\n[[queue]]\nname = \"support\"\nrequire = { english = 1 }\n",
    );
    let e = Engine::start("403", base, &toml);
    e.sipp("carrier-expect-403.xml")
        .args([
            "-s",
            "5000",
            "-i",
            "127.0.0.2",
            "-p",
            &(base + 40).to_string(),
            "-mp",
            &(base + 50).to_string(),
        ])
        .run();
    assert_eq!(e.status()["counters"]["invite_rejected"]["403"], 1);
}

#[test]
fn wrong_password_is_challenged_then_refused() {
    let e = start("badpw", "");
    e.sipp("agent-register-bad.xml")
        .args([
            "-au",
            "1001",
            "-ap",
            "not-the-password",
            "-set",
            "user",
            "1001",
        ])
        .args([
            "-set",
            "contact_port",
            &(e.base + 20).to_string(),
            "-set",
            "expires",
            "3600",
        ])
        .args(["-p", &(e.base + 21).to_string()])
        .run();
    assert_eq!(e.status()["registrations"].as_object().unwrap().len(), 0);
}

#[test]
fn registration_expiry_is_honoured() {
    require_sipp();
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        .replace("t1 = \"100ms\"", "t1 = \"100ms\"\nmin_expires = 1");
    let e = Engine::start("expiry", base, &toml);
    e.sipp("agent-register.xml")
        .args(["-au", "1001", "-ap", "pw1001", "-set", "user", "1001"])
        .args([
            "-set",
            "contact_port",
            &(base + 20).to_string(),
            "-set",
            "expires",
            "1",
        ])
        .args(["-p", &(base + 21).to_string()])
        .run();
    e.wait_registered(1);
    // The binding lapses by itself after its 1 s expiry.
    e.wait_registered(0);
}
