//! A call's audio counted at both ends: what the caller sends reaches the
//! agent and what the agent sends reaches the caller, every packet, through
//! the engine's anchored ports (never directly).

mod support;

use support::ua::Ua;
use support::*;

#[test]
fn every_rtp_packet_reaches_the_other_end_through_the_engine() {
    let base = port_block();
    let e = Engine::start("rtp-both", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let agent_thread = std::thread::spawn(move || {
        let engine_rtp = agent.answer();
        let got = agent.exchange_rtp(engine_rtp, 100, b"AGNT", b"CALR");
        agent.await_bye();
        (engine_rtp, got)
    });
    let carrier = Ua::new(e.sip, "carrier");
    let (engine_rtp, tag) = carrier.call("5000");
    let got_at_carrier = carrier.exchange_rtp(engine_rtp, 100, b"CALR", b"AGNT");
    // Let the agent finish its own sending before hanging up.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(carrier.hang_up("5000", &tag), 200);
    let (agent_side_engine_rtp, got_at_agent) = agent_thread.join().unwrap();
    // Media is anchored: each side talks to an engine port in its range.
    for a in [engine_rtp, agent_side_engine_rtp] {
        assert!((base + 100..=base + 199).contains(&a.port()), "{a}");
    }
    assert_ne!(engine_rtp, agent_side_engine_rtp);
    assert_eq!(got_at_carrier, 100, "agent -> caller");
    assert_eq!(got_at_agent, 100, "caller -> agent");
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed");
    assert!(c["rtp"]["relayed_a_to_b"].as_u64().unwrap() >= 100, "{c}");
    assert!(c["rtp"]["relayed_b_to_a"].as_u64().unwrap() >= 100, "{c}");
}
