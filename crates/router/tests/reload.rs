//! A config reload keeps callers, their order and agent states.

mod common;
use common::*;
use router::*;

fn base() -> RouterConfig {
    RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("en", 1)])],
        queues: vec![
            queue("q", &[("en", 1)], Strategy::Linear),
            queue("old", &[], Strategy::Linear),
        ],
    }
}

#[test]
fn callers_keep_their_order_and_agents_their_state() {
    let mut s = Sim::with_all_logged_in(base());
    s.enqueue(1, "q", 0);
    s.answer_next();
    s.r.agent_pause("b", Some("break".into()), s.now).unwrap();
    for c in 2..=6 {
        s.enqueue(c, "q", if c == 5 { 7 } else { 0 });
        s.advance(secs(1));
    }
    let mut cfg = base();
    cfg.agents.push(agent("c", &[("en", 3)]));
    cfg.queues[0].strategy = Strategy::LongestIdle;
    s.r.reload(cfg, s.now);
    assert!(s.drain().iter().any(|e| matches!(
        e,
        RouterEvent::Log(QueueLogEvent::ConfigReload { agents: 3, .. })
    )));
    assert_eq!(s.state("a"), AgentState::OnCall);
    assert_eq!(s.state("b"), AgentState::Paused);
    assert_eq!(s.r.queue_len("q"), Some(5));
    s.r.agent_login("c", s.now).unwrap();
    let mut order = vec![s.answer_next().0];
    for _ in 0..4 {
        let c = *order.last().unwrap();
        s.end(c, "c");
        order.push(s.answer_next().0);
    }
    assert_eq!(order, [5, 2, 3, 4, 6]);
}

#[test]
fn removed_queue_sends_its_callers_out() {
    let mut s = Sim::with_all_logged_in(base());
    s.enqueue(1, "old", 0);
    s.answer_next();
    s.enqueue(2, "old", 0);
    s.answer_next();
    s.enqueue(3, "old", 0);
    let mut cfg = base();
    cfg.queues.pop();
    s.r.reload(cfg, s.now);
    let ev = s.drain();
    assert!(ev.contains(&RouterEvent::Exit {
        call: 3,
        queue: "old".into(),
        reason: ExitReason::QueueRemoved
    }));
    // connected calls finish normally
    s.end(1, "a");
    assert_eq!(s.state("a"), AgentState::Available);
    assert_eq!(
        s.r.enqueue(4, "old", 0, "x", s.now),
        Err(RouterError::UnknownQueue("old".into()))
    );
}

#[test]
fn removed_agent_is_logged_out_and_its_offer_moves_on() {
    let mut s = Sim::with_all_logged_in(base());
    s.enqueue(1, "q", 0);
    assert_eq!(s.offers(), vec![(1, "a".to_string())]);
    let mut cfg = base();
    cfg.agents.remove(0);
    s.r.reload(cfg, s.now);
    let ev = s.drain();
    assert!(ev.contains(&RouterEvent::CancelRing {
        call: 1,
        agent: "a".into()
    }));
    assert!(ev.contains(&RouterEvent::Offer {
        call: 1,
        agent: "b".into(),
        queue: "q".into()
    }));
    assert_eq!(
        s.r.agent_login("a", s.now),
        Err(RouterError::UnknownAgent("a".into()))
    );
}

#[test]
fn new_skills_apply_to_waiting_callers() {
    let mut s = Sim::with_all_logged_in(base());
    s.r.agent_pause("b", None, s.now).unwrap();
    s.enqueue(1, "q", 0);
    s.answer_next();
    s.enqueue(2, "q", 0);
    s.drain();
    let mut cfg = base();
    cfg.queues[0].require = skills(&[("en", 1), ("de", 1)]);
    cfg.agents.push(agent("d", &[("en", 1), ("de", 2)]));
    s.r.reload(cfg, s.now);
    s.end(1, "a");
    s.r.agent_unpause("b", s.now).unwrap();
    assert!(s.offers().is_empty(), "a and b lack de");
    s.r.agent_login("d", s.now).unwrap();
    s.drain();
    assert_eq!(
        s.r.call_status(2, s.now),
        Some(CallStatus::Ringing {
            queue: "q".into(),
            agents: vec!["d".into()]
        })
    );
}

#[test]
fn reload_retimes_max_wait_and_relaxation() {
    let mut s = Sim::new(base());
    s.enqueue(1, "q", 0);
    s.advance(secs(50));
    let mut cfg = base();
    cfg.queues[0].max_wait = Some(secs(60));
    s.r.reload(cfg, s.now);
    s.advance(secs(9));
    assert!(!s
        .drain()
        .iter()
        .any(|e| matches!(e, RouterEvent::Exit { .. })));
    s.advance(secs(1));
    assert!(s.drain().iter().any(|e| matches!(
        e,
        RouterEvent::Exit {
            call: 1,
            reason: ExitReason::Timeout,
            ..
        }
    )));
}
