//! The queue_log event stream, as JSON lines.

mod common;
use common::*;
use router::*;

fn lines(s: &mut Sim) -> Vec<String> {
    s.drain();
    s.log
        .iter()
        .filter_map(|e| match e {
            RouterEvent::Log(l) => Some(serde_json::to_string(l).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_call_tells_its_story() {
    let cfg = RouterConfig {
        agents: vec![agent("alice", &[("en", 1)]), agent("bob", &[("en", 1)])],
        queues: vec![queue("sales", &[("en", 1)], Strategy::Linear)],
    };
    let mut s = Sim::new(cfg);
    s.r.agent_login("alice", s.now).unwrap();
    s.r.agent_login("bob", s.now).unwrap();
    s.r.enqueue(7, "sales", 2, "+15551234", s.now).unwrap();
    s.advance(secs(2));
    s.r.ring_failed(7, "alice", RingFailure::Rejected, s.now);
    s.advance(secs(1));
    s.answer(7, "bob");
    s.advance(secs(90));
    s.r.call_ended_by(7, "bob", EndedBy::Caller, s.now);
    s.r.agent_pause("alice", Some("lunch".into()), s.now)
        .unwrap();
    s.r.agent_unpause("alice", s.now).unwrap();
    s.r.agent_logout("alice", s.now).unwrap();
    assert_eq!(
        lines(&mut s),
        [
            r#"{"event":"login","agent":"alice"}"#,
            r#"{"event":"login","agent":"bob"}"#,
            r#"{"event":"enter","call":7,"queue":"sales","caller":"+15551234","priority":2,"position":1}"#,
            r#"{"event":"ringnoanswer","call":7,"queue":"sales","agent":"alice","ring_ms":2000,"reason":"rejected"}"#,
            r#"{"event":"connect","call":7,"queue":"sales","agent":"bob","wait_ms":3000,"ring_ms":1000}"#,
            r#"{"event":"completecaller","call":7,"queue":"sales","agent":"bob","wait_ms":3000,"talk_ms":90000}"#,
            r#"{"event":"pause","agent":"alice","reason":"lunch"}"#,
            r#"{"event":"unpause","agent":"alice"}"#,
            r#"{"event":"logout","agent":"alice","session_ms":93000}"#,
        ]
    );
}

#[test]
fn abandon_exit_transfer_reload() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[])],
        queues: vec![QueueConfig {
            max_wait: Some(secs(10)),
            ..queue("q", &[], Strategy::Linear)
        }],
    };
    let mut s = Sim::new(cfg.clone());
    s.enqueue(1, "q", 0);
    s.enqueue(2, "q", 0);
    s.advance(secs(4));
    s.r.abandon(1, s.now);
    s.advance(secs(6));
    s.r.agent_login("a", s.now).unwrap();
    s.enqueue(3, "q", 0);
    s.answer_next();
    s.r.call_ended_by(3, "a", EndedBy::Transfer("2001".into()), s.now);
    s.r.reload(cfg, s.now);
    let l = lines(&mut s);
    assert!(l.contains(&r#"{"event":"abandon","call":1,"queue":"q","position":1,"orig_position":1,"wait_ms":4000}"#.to_string()), "{l:?}");
    assert!(l.contains(&r#"{"event":"exittimeout","call":2,"queue":"q","position":1,"orig_position":2,"wait_ms":10000}"#.to_string()), "{l:?}");
    assert!(
        l.iter().any(|x| x
            .starts_with(r#"{"event":"transfer","call":3,"queue":"q","agent":"a","to":"2001""#)),
        "{l:?}"
    );
    assert!(
        l.contains(&r#"{"event":"configreload","agents":1,"queues":1}"#.to_string()),
        "{l:?}"
    );
}
