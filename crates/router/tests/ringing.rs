//! Ring timeouts, rejections, busy delays, auto-pause, late answers.

mod common;
use common::*;
use router::*;

fn two() -> RouterConfig {
    RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("en", 1)])],
        queues: vec![QueueConfig {
            ring_timeout: secs(15),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    }
}

#[test]
fn ring_timeout_cancels_and_offers_the_next_agent() {
    let mut s = Sim::with_all_logged_in(two());
    s.enqueue(1, "q", 0);
    assert_eq!(s.offers(), vec![(1, "a".to_string())]);
    s.advance(secs(14));
    assert!(s.drain().is_empty());
    s.advance(secs(1));
    let ev = s.drain();
    let pos = |e: &RouterEvent| ev.iter().position(|x| x == e).unwrap();
    let timeout = pos(&RouterEvent::RingTimeout {
        call: 1,
        agent: "a".into(),
    });
    let offer = pos(&RouterEvent::Offer {
        call: 1,
        agent: "b".into(),
        queue: "q".into(),
    });
    assert!(timeout < offer);
    assert!(ev.iter().any(|e| matches!(e, RouterEvent::Log(QueueLogEvent::RingNoAnswer { agent, ring_ms: 15000, .. }) if agent == "a")));
}

#[test]
fn rejecting_agent_waits_its_reject_delay() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].reject_delay = secs(8);
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.drain();
    s.r.ring_failed(1, "a", RingFailure::Rejected, s.now);
    assert!(s.offers().is_empty());
    assert_eq!(s.state("a"), AgentState::Available);
    s.advance(secs(7));
    assert!(s.offers().is_empty());
    s.advance(secs(1));
    assert_eq!(s.offers(), vec![(1, "a".to_string())]);
}

#[test]
fn unreachable_delay() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].unreachable_delay = secs(30);
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.drain();
    s.r.ring_failed(1, "a", RingFailure::Unreachable, s.now);
    s.advance(secs(29));
    assert!(s.offers().is_empty());
    s.advance(secs(1));
    assert_eq!(s.offers().len(), 1);
}

#[test]
fn auto_pause_after_consecutive_no_answers() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].auto_pause_after = Some(2);
    cfg.agents[0].no_answer_delay = secs(1);
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.drain();
    s.advance(secs(15));
    assert_eq!(s.state("a"), AgentState::Available);
    s.advance(secs(1));
    assert_eq!(s.offers().len(), 1);
    s.advance(secs(15));
    assert_eq!(s.state("a"), AgentState::Paused);
    s.drain();
    assert!(s.log.iter().any(|e| matches!(e, RouterEvent::Log(QueueLogEvent::Pause { agent, reason: Some(r) }) if agent == "a" && r.contains("auto"))));
    s.advance(secs(100));
    assert!(s.offers().is_empty());
    s.r.agent_unpause("a", s.now).unwrap();
    assert_eq!(s.offers().len(), 1);
}

#[test]
fn an_answer_resets_the_no_answer_count() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].auto_pause_after = Some(2);
    cfg.agents[0].no_answer_delay = secs(0);
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.drain();
    s.r.ring_failed(1, "a", RingFailure::NoAnswer, s.now);
    s.answer_next();
    s.end(1, "a");
    s.enqueue(2, "q", 0);
    s.drain();
    s.r.ring_failed(2, "a", RingFailure::NoAnswer, s.now);
    assert_ne!(s.state("a"), AgentState::Paused);
}

#[test]
fn late_answer_is_cancelled() {
    let mut s = Sim::with_all_logged_in(two());
    s.enqueue(1, "q", 0);
    s.drain();
    s.advance(secs(15));
    s.drain();
    s.answer(1, "a");
    assert_eq!(
        s.drain(),
        vec![RouterEvent::CancelRing {
            call: 1,
            agent: "a".into()
        }]
    );
    assert_eq!(s.state("b"), AgentState::Ringing);
    s.answer(1, "b");
    assert_eq!(s.state("b"), AgentState::OnCall);
}

#[test]
fn caller_keeps_its_place_after_a_failed_offer() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].reject_delay = secs(0);
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.drain();
    s.advance(secs(1));
    s.enqueue(2, "q", 0);
    s.r.ring_failed(1, "a", RingFailure::Rejected, s.now);
    assert_eq!(
        s.offers(),
        vec![(1, "a".to_string())],
        "caller 1 is still first"
    );
}

#[test]
fn capacity_two_takes_two_calls() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].capacity = 2;
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.enqueue(2, "q", 0);
    s.enqueue(3, "q", 0);
    let o = s.offers();
    assert_eq!(o.len(), 2);
    s.answer(1, "a");
    s.answer(2, "a");
    assert_eq!(s.state("a"), AgentState::OnCall);
    s.end(1, "a");
    assert_eq!(s.offers(), vec![(3, "a".to_string())]);
}

#[test]
fn agent_with_spare_capacity_stays_offerable() {
    let mut cfg = two();
    cfg.agents.truncate(1);
    cfg.agents[0].capacity = 3;
    let mut s = Sim::with_all_logged_in(cfg);
    for c in 1..=3 {
        s.enqueue(c, "q", 0);
        assert_eq!(s.offers(), vec![(c, "a".to_string())], "call {c}");
    }
    s.enqueue(4, "q", 0);
    assert!(s.offers().is_empty(), "capacity reached");
    s.r.ring_failed(2, "a", RingFailure::Rejected, s.now);
    s.drain();
    s.r.check_invariants().unwrap();
}
