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
    // Where the host allows BPF, the established streams went through the
    // kernel (`[media] kernel_forwarding`), and the counts above include
    // those packets.
    let kernel = c["rtp"]["kernel_relayed"].as_u64().unwrap();
    if e.log().contains("forwarded in the kernel") {
        assert!(kernel > 0, "{c}");
    } else {
        eprintln!("in-kernel forwarding unavailable on this host: user space relayed all");
    }
}

/// Sends `n` packets of payload type `pt` filled with `fill` to `to`;
/// returns the payloads received meanwhile and after
/// ([`support::ua::until_quiet`]).
fn exchange(
    s: &std::net::UdpSocket,
    to: std::net::SocketAddr,
    pt: u8,
    fill: u8,
    n: u16,
) -> Vec<(u8, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    s.set_read_timeout(Some(std::time::Duration::from_millis(10)))
        .unwrap();
    let mut last_heard = std::time::Instant::now();
    let mut collect = |got: &mut Vec<(u8, Vec<u8>)>| {
        while let Ok(len) = s.recv(&mut buf) {
            last_heard = std::time::Instant::now();
            if len > 12 {
                got.push((buf[1] & 0x7f, buf[12..len].to_vec()));
            }
        }
        last_heard
    };
    for seq in 0..n {
        let mut pkt = vec![0x80, pt];
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        pkt.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
        pkt.resize(12 + 160, fill);
        s.send_to(&pkt, to).unwrap();
        collect(&mut got);
    }
    support::ua::until_quiet(|| (collect(&mut got), false));
    got
}

#[test]
fn a_mulaw_caller_and_an_alaw_phone_hear_each_other_through_transcoding() {
    let base = port_block();
    let e = Engine::start("transcode", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    let agent = Ua::new(e.sip, "1001"); // answers A-law only
    assert_eq!(agent.register("pw1001"), 200);
    let agent_thread = std::thread::spawn(move || {
        let engine_rtp = agent.answer();
        let got = exchange(&agent.rtp, engine_rtp, 8, 0xd5, 50); // A-law silence
        agent.await_bye();
        got
    });
    let mut carrier = Ua::new(e.sip, "carrier");
    carrier.pt = 0; // offers µ-law only
    let (engine_rtp, tag) = carrier.call("5000");
    let got_at_carrier = exchange(&carrier.rtp, engine_rtp, 0, 0xff, 50); // µ-law silence
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(carrier.hang_up("5000", &tag), 200);
    let got_at_agent = agent_thread.join().unwrap();
    // Each side receives its own law, re-encoded rather than passed through:
    // µ-law 0xFF is 0, which A-law writes as 0xD5 (+8, A-law has no zero);
    // A-law 0xD5 (+8) is µ-law 0xFE.
    let from_agent: Vec<_> = got_at_carrier
        .iter()
        .filter(|(pt, p)| *pt == 0 && p.iter().all(|b| *b == 0xfe))
        .collect();
    let from_caller: Vec<_> = got_at_agent
        .iter()
        .filter(|(pt, p)| *pt == 8 && p.iter().all(|b| *b == 0xd5))
        .collect();
    let seen: std::collections::BTreeSet<(u8, u8)> =
        got_at_carrier.iter().map(|(pt, p)| (*pt, p[0])).collect();
    assert!(
        from_agent.len() >= 45,
        "the agent's A-law silence as µ-law at the caller: {} of 50; (pt, first byte) seen: {seen:?}",
        from_agent.len()
    );
    assert!(
        from_caller.len() >= 45,
        "the caller's µ-law silence as A-law at the agent: {} of 50",
        from_caller.len()
    );
    assert!(
        got_at_agent.iter().all(|(pt, _)| *pt == 8),
        "the agent only ever gets A-law"
    );
}

/// A G.722 carrier and a G.711 (A-law) agent: the engine answers the
/// carrier in G.722, offers the agent the carrier's codec first, and when
/// the agent picks A-law it transcodes both ways (decode, resample to and
/// from 16 kHz, encode). Each side hears the other's tone.
#[test]
fn a_g722_caller_talks_with_an_alaw_agent() {
    use support::ua::tones_in;
    let base = port_block();
    let e = Engine::start("rtp-g722", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let agent_thread = std::thread::spawn(move || {
        let invite = agent.answer_invite();
        let offer = String::from_utf8_lossy(&invite.body()).to_string();
        let engine_rtp = support::ua::rtp_target(&invite);
        let heard = agent.talk(engine_rtp, 1000.0, 100, 25);
        agent.await_bye();
        (offer, heard)
    });
    let mut carrier = Ua::new(e.sip, "carrier");
    carrier.pt = 9;
    let (engine_rtp, tag) = carrier.call("5000");
    let heard = carrier.talk(engine_rtp, 500.0, 100, 25);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(carrier.hang_up("5000", &tag), 200);
    let (offer, agent_heard) = agent_thread.join().unwrap();
    assert!(
        offer.contains("m=audio") && offer.contains(" 9 "),
        "G.722 offered first: {offer}"
    );
    let freqs = [500.0, 1000.0, 1500.0];
    assert_eq!(
        tones_in(&heard, freqs),
        [false, true, false],
        "carrier hears the agent"
    );
    assert_eq!(
        tones_in(&agent_heard, freqs),
        [true, false, false],
        "agent hears the carrier"
    );
}
