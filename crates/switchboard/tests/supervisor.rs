//! A supervisor on a live call, against the real binary: the admin API
//! calls the supervisor's registered phone, which then hears the call,
//! coaches the agent (whisper) and joins it (barge, from its keypad); the
//! queue records the call as a stereo WAV named in the CDR.
//!
//! Caller, agent and supervisor each send a tone of their own (500, 1000,
//! 1500 Hz); what each one receives says whom it hears.

mod admin_common;
mod support;

use std::time::Duration;

use admin_common::*;
use support::ua::{tones_in, Ua};
use support::*;

const CALLER: f64 = 500.0;
const AGENT: f64 = 1000.0;
const SUPER: f64 = 1500.0;
const FREQS: [f64; 3] = [CALLER, AGENT, SUPER];

/// The default queue, recording, and a supervisor account without skills.
const EXTRA: &str = r#"
record = true

[[agent]]
id = "2001"
name = "Supervisor"
password = "pw2001"
"#;

#[test]
fn listen_whisper_barge_and_recording_through_the_api() {
    let base = port_block();
    let extra = format!("{DEFAULT_TRUNK_AND_QUEUE}{EXTRA}");
    let e = Engine::start("supervisor", base, &config(base, &extra));
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let mut sup = Ua::new(e.sip, "2001");
    sup.pt = 0;
    assert_eq!(sup.register("pw2001"), 200);

    // The agent answers and talks for the whole test.
    let agent_thread = std::thread::spawn(move || {
        let engine_rtp = agent.answer();
        let heard = agent.talk(engine_rtp, AGENT, 500, 0);
        agent.await_bye();
        heard
    });
    let caller = Ua::new(e.sip, "carrier");
    let (caller_rtp, tag) = caller.call("5000");
    let calls = get(e.admin, "/api/v1/calls").json();
    let call_id = calls["calls"][0]["call_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/calls/{}/monitor", enc(&call_id));

    // Refusals first: bad body, unknown agent, the call's own agent.
    assert_eq!(post(e.admin, &path, Some("{")).status, 400);
    assert_eq!(post(e.admin, &path, None).status, 400);
    let r = post(e.admin, &path, Some(r#"{"supervisor": "9999"}"#));
    assert_eq!(r.status, 404, "{r:?}");
    let r = post(e.admin, &path, Some(r#"{"supervisor": "1001"}"#));
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(post(e.admin, &format!("{path}/stop"), None).status, 409);

    let r = post(
        e.admin,
        &path,
        Some(r#"{"supervisor": "2001", "mode": "listen"}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["monitor"]["supervisor"], "2001");
    let sup_thread = std::thread::spawn(move || {
        let engine_rtp = sup.answer();
        let listen = sup.talk(engine_rtp, SUPER, 75, 25);
        (sup, engine_rtp, listen)
    });
    let caller_listen = caller.talk(caller_rtp, CALLER, 100, 25);
    let (sup, sup_rtp, sup_listen) = sup_thread.join().unwrap();
    assert!((base + 100..=base + 199).contains(&sup_rtp.port()));
    assert_eq!(
        tones_in(&sup_listen, FREQS),
        [true, true, false],
        "listen hears both"
    );
    assert_eq!(
        tones_in(&caller_listen, FREQS),
        [false, true, false],
        "caller"
    );
    let view = get(e.admin, &format!("/api/v1/calls/{}", enc(&call_id))).json();
    assert_eq!(view["monitor"]["mode"], "listen", "{view}");
    assert_eq!(view["monitor"]["answered"], true, "{view}");

    // Whisper: the agent hears the supervisor, the caller does not.
    let r = post(
        e.admin,
        &path,
        Some(r#"{"supervisor": "2001", "mode": "whisper"}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let sup_thread = std::thread::spawn(move || {
        let heard = sup.talk(sup_rtp, SUPER, 100, 25);
        (sup, heard)
    });
    let caller_whisper = caller.talk(caller_rtp, CALLER, 100, 25);
    let (sup, sup_whisper) = sup_thread.join().unwrap();
    assert_eq!(
        tones_in(&caller_whisper, FREQS),
        [false, true, false],
        "caller never hears a whisper"
    );
    assert_eq!(tones_in(&sup_whisper, FREQS), [true, true, false]);

    // Barge from the supervisor's keypad (3): the caller hears it too.
    sup.send_dtmf(sup_rtp, 3);
    std::thread::sleep(Duration::from_millis(200));
    let sup_thread = std::thread::spawn(move || {
        let heard = sup.talk(sup_rtp, SUPER, 100, 25);
        (sup, heard)
    });
    let caller_barge = caller.talk(caller_rtp, CALLER, 100, 25);
    let (sup, _) = sup_thread.join().unwrap();
    assert_eq!(tones_in(&caller_barge, FREQS), [false, true, true], "barge");
    let view = get(e.admin, &format!("/api/v1/calls/{}", enc(&call_id))).json();
    assert_eq!(view["monitor"]["mode"], "barge", "{view}");

    // Stop: the supervisor's phone gets BYE; the call goes on.
    let r = post(e.admin, &format!("{path}/stop"), None);
    assert_eq!(r.status, 200, "{r:?}");
    sup.await_bye();
    let view = get(e.admin, &format!("/api/v1/calls/{}", enc(&call_id))).json();
    assert!(view["monitor"].is_null(), "{view}");
    assert_eq!(view["state"], "bridged");

    assert_eq!(caller.hang_up("5000", &tag), 200);
    let agent_heard = agent_thread.join().unwrap();
    assert!(
        tones_in(&agent_heard, FREQS)[2],
        "the agent heard the coach"
    );
    let cdr = &e.wait_cdrs(1)[0];
    assert_eq!(cdr["outcome"], "completed");
    assert!(
        cdr["rtp"]["c"]["rx_packets"].as_u64().unwrap() > 100,
        "{cdr}"
    );

    // The recording: stereo, caller left, agent right, finished on hang-up.
    let rec = e
        .dir
        .join(cdr["recording"].as_str().expect("recording in the CDR"));
    let bytes = wait_for_wav(&rec);
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "stereo");
    let pcm: Vec<i16> = bytes[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let left: Vec<i16> = pcm.iter().step_by(2).copied().collect();
    let right: Vec<i16> = pcm.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(tones_in(&left, FREQS), [true, false, false], "caller left");
    assert_eq!(tones_in(&right, FREQS), [false, true, false], "agent right");
}

/// The WAV once its header has been finished (data size filled in).
fn wait_for_wav(path: &std::path::Path) -> Vec<u8> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(b) = std::fs::read(path) {
            if b.len() > 44
                && u32::from_le_bytes([b[40], b[41], b[42], b[43]]) as usize == b.len() - 44
            {
                return b;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "recording {} not finished",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
