//! Queue behaviour the caller hears and the queue_log records: position and
//! wait announcements, a goodbye then 480 at max wait, overflow to another
//! queue.

mod support;

use support::ua::Ua;
use support::*;

fn prompts_dir() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/media/prompts/en");
    p.canonicalize().unwrap().display().to_string()
}

#[test]
fn a_waiting_caller_hears_announcements_then_goodbye_at_max_wait() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        .replace(
            "rtp_timeout = \"30s\"",
            &format!("rtp_timeout = \"30s\"\nprompts = \"{}\"", prompts_dir()),
        )
        .replace(
            "path = \"cdr.jsonl\"",
            "path = \"cdr.jsonl\"\nqueue_log = \"queue_log.jsonl\"",
        )
        .replace(
            "wrap_up = \"1s\"",
            "wrap_up = \"1s\"\nannounce_every = \"1s\"\nmax_wait = \"3s\"",
        );
    let e = Engine::start("announce", base, &toml);
    let caller = Ua::new(e.sip, "carrier");
    // Nobody is registered: the caller waits, hears announcements, then leaves.
    let (status, _) = caller.invite_status("5000");
    assert_eq!(status, 480);
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "timeout", "{c}");
    assert_eq!(c["hangup_by"], "engine");
    // 3 s of music + prompts + goodbye, 50 packets a second.
    assert!(c["rtp"]["a"]["played"].as_u64().unwrap() >= 150, "{c}");
    let log = std::fs::read_to_string(e.dir.join("queue_log.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|v| v["event"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"enter"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("exit")), "{names:?}");
    assert!(events.iter().all(|v| v["time"].is_string()));
    assert!(
        e.log().contains("announcement"),
        "announcements were scheduled and played"
    );
}

#[test]
fn a_caller_overflows_to_another_queue_and_is_answered_there() {
    let base = port_block();
    let toml = config(
        base,
        "[[trunk]]\nname = \"carrier\"\nallow = [\"127.0.0.0/8\"]\n",
    ) + r#"
[[agent]]
id = "2001"
password = "pw2001"
skills = { billing = 4 }

[[queue]]
name = "support"
require = { english = 5 }
max_wait = "1s"
overflow_queue = "billing"

[[queue]]
name = "billing"
require = { billing = 1 }
"#;
    let e = Engine::start("overflow", base, &toml);
    let agent = Ua::new(e.sip, "2001");
    assert_eq!(agent.register("pw2001"), 200);
    let t = std::thread::spawn(move || {
        agent.answer();
        agent.await_bye();
    });
    let caller = Ua::new(e.sip, "carrier");
    let (_, tag) = caller.call("5000");
    assert_eq!(caller.hang_up("5000", &tag), 200);
    t.join().unwrap();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["agent"], "2001");
    assert_eq!(c["queue"], "billing");
}

#[test]
fn a_waiting_caller_leaves_with_the_exit_key() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        .replace(
            "rtp_timeout = \"30s\"",
            &format!("rtp_timeout = \"30s\"\nprompts = \"{}\"", prompts_dir()),
        )
        .replace("wrap_up = \"1s\"", "wrap_up = \"1s\"\nexit_key = \"0\"");
    let e = Engine::start("exit-key", base, &toml);
    let caller = Ua::new(e.sip, "carrier");
    let engine_rtp = caller.invite_early("5000");
    caller.send_dtmf(engine_rtp, 0);
    let last = caller.recv_response(sip_core::Method::Invite, None);
    assert_eq!(last.status(), Some(480));
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["dtmf"], "0", "{c}");
    assert_eq!(c["outcome"], "timeout", "{c}");
}

#[test]
fn an_agent_blind_transfers_the_caller_to_another_queue() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        + r#"
[[agent]]
id = "2001"
password = "pw2001"
skills = { billing = 4 }

[[queue]]
name = "billing"
require = { billing = 1 }

[[route]]
to = "5001"
queue = "billing"
"#;
    let e = Engine::start("transfer", base, &toml);
    let first = Ua::new(e.sip, "1001");
    assert_eq!(first.register("pw1001"), 200);
    let second = Ua::new(e.sip, "2001");
    assert_eq!(second.register("pw2001"), 200);
    let first_thread = std::thread::spawn(move || {
        let invite = first.answer_invite();
        assert_eq!(first.refer(&invite, "5001"), 202);
        // The engine ends the transferring agent's leg itself.
        first.await_bye();
    });
    let second_thread = std::thread::spawn(move || {
        second.answer();
        second.await_bye();
    });
    let caller = Ua::new(e.sip, "carrier");
    let (_, tag) = caller.call("5000");
    first_thread.join().unwrap();
    e.wait_until("the caller reached the second agent", |s| {
        s["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["agent"] == "2001")
    });
    assert_eq!(caller.hang_up("5000", &tag), 200);
    second_thread.join().unwrap();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed", "{c}");
    assert_eq!(c["agent"], "2001");
    assert_eq!(c["queue"], "billing");
    assert_eq!(c["transfers"], serde_json::json!(["1001>5001"]));
}
