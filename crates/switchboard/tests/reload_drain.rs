//! Changing a running engine without dropping calls: SIGHUP reloads the
//! config (a bad one is refused and the running one kept), SIGTERM drains
//! (new calls get 503 + Retry-After, live calls finish, then the process
//! exits with every CDR written).

mod support;

use std::time::Duration;

use support::ua::Ua;
use support::*;

#[test]
fn reload_during_live_calls_loses_nothing() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE);
    let e = Engine::start("reload", base, &toml);
    // One call bridged to 1001...
    let a1 = Ua::new(e.sip, "1001");
    assert_eq!(a1.register("pw1001"), 200);
    let a1_thread = std::thread::spawn(move || {
        a1.answer();
        a1.await_bye();
    });
    let c1 = Ua::new(e.sip, "carrier-1");
    let (_, tag1) = c1.call("5000");
    // ...and one caller waiting: nobody else is registered.
    let sip = e.sip;
    let c2_thread = std::thread::spawn(move || {
        let c2 = Ua::new(sip, "carrier-2");
        let (_, tag2) = c2.call("5000");
        (c2, tag2)
    });
    e.wait_until("a waiting caller", |s| {
        s["calls"].as_array().unwrap().len() == 2
    });

    // A broken config is refused; the running config stays.
    e.write_config(&toml.replace(
        "[[queue]]\nname = \"support\"",
        "[[queue]]\nname = \"support\"\nstrategy = \"telepathy\"",
    ));
    e.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(e.log().contains("configuration rejected"), "{}", e.log());
    assert!(
        e.log().contains("switchboard.toml:"),
        "errors carry file:line"
    );

    // A good config adds agent 1003; the waiting caller is offered to it.
    let added = toml.clone()
        + "\n[[agent]]\nid = \"1003\"\npassword = \"pw1003\"\nskills = { english = 2 }\n";
    e.write_config(&added);
    e.signal("HUP");
    e.wait_until("the reload", |s| s["counters"]["reloads"] == 1);
    assert_eq!(
        e.status()["calls"].as_array().unwrap().len(),
        2,
        "no call dropped by the reload"
    );
    let a3 = Ua::new(e.sip, "1003");
    assert_eq!(a3.register("pw1003"), 200);
    a3.answer();
    let (c2, tag2) = c2_thread.join().unwrap();

    assert_eq!(c1.hang_up("5000", &tag1), 200);
    assert_eq!(c2.hang_up("5000", &tag2), 200);
    a1_thread.join().unwrap();
    a3.await_bye();
    let cdrs = e.wait_cdrs(2);
    assert_eq!(cdrs.len(), 2);
    assert!(cdrs.iter().all(|c| c["outcome"] == "completed"), "{cdrs:?}");
    let mut agents: Vec<_> = cdrs
        .iter()
        .map(|c| c["agent"].as_str().unwrap().to_string())
        .collect();
    agents.sort();
    assert_eq!(agents, ["1001", "1003"]);
}

#[test]
fn sigterm_drains_live_calls_then_exits() {
    let base = port_block();
    let mut e = Engine::start("drain", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let agent_thread = std::thread::spawn(move || {
        agent.answer();
        agent.await_bye();
    });
    let c1 = Ua::new(e.sip, "carrier-1");
    let (_, tag) = c1.call("5000");
    e.signal("TERM");
    e.wait_until("draining", |s| s["draining"] == true);
    assert_eq!(e.http("GET", "/readyz").unwrap().0, 503);
    // New calls are refused with 503 and a Retry-After...
    let late = Ua::new(e.sip, "carrier-2");
    let (status, resp) = late.invite_status("5000");
    assert_eq!(status, 503);
    assert!(resp.header(sip_core::HeaderName::RetryAfter).is_some());
    // ...while the live call goes on and ends normally.
    assert_eq!(c1.hang_up("5000", &tag), 200);
    agent_thread.join().unwrap();
    assert!(
        e.wait_exit(Duration::from_secs(10)),
        "engine exits once the last call ended"
    );
    let cdrs = e.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0]["outcome"], "completed");
}

/// Signals are the engine's: no media worker may handle one (a worker's
/// runtime waking the engine's signal listener from its private fd table
/// panicked the worker). Many SIGHUPs, then SIGTERM: nothing panics.
#[test]
fn signals_never_reach_a_media_worker() {
    let base = port_block();
    let mut e = Engine::start("signals", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    for _ in 0..30 {
        e.signal("HUP");
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    e.wait_until("30 reloads", |s| {
        s["counters"]["reloads"].as_u64() >= Some(1)
    });
    assert!(e.terminate(), "exit 0 after SIGTERM");
    let log = e.log();
    assert!(!log.contains("panicked"), "{log}");
}
