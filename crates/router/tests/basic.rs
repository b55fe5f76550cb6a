//! The everyday path: login, offer, answer, talk, wrap-up, available.

mod common;
use common::*;
use router::*;

fn one_agent_one_queue() -> RouterConfig {
    RouterConfig {
        agents: vec![agent("alice", &[("en", 3)])],
        queues: vec![QueueConfig {
            wrap_up: secs(10),
            ..queue("sales", &[("en", 2)], Strategy::LongestIdle)
        }],
    }
}

#[test]
fn call_arriving_is_offered_immediately() {
    let mut s = Sim::with_all_logged_in(one_agent_one_queue());
    s.enqueue(1, "sales", 0);
    assert_eq!(s.offers(), vec![(1, "alice".to_string())]);
    assert_eq!(s.state("alice"), AgentState::Ringing);
}

#[test]
fn agent_logging_in_takes_the_waiting_caller() {
    let mut s = Sim::new(one_agent_one_queue());
    s.enqueue(1, "sales", 0);
    assert!(s.offers().is_empty());
    s.r.agent_login("alice", s.now).unwrap();
    assert_eq!(s.offers(), vec![(1, "alice".to_string())]);
}

#[test]
fn full_cycle_with_wrap_up() {
    let mut s = Sim::with_all_logged_in(one_agent_one_queue());
    s.enqueue(1, "sales", 0);
    s.answer_next();
    assert_eq!(s.state("alice"), AgentState::OnCall);
    s.enqueue(2, "sales", 0);
    assert!(s.offers().is_empty(), "agent is busy");
    s.advance(secs(60));
    s.end(1, "alice");
    assert_eq!(s.state("alice"), AgentState::WrapUp);
    assert!(s.offers().is_empty(), "wrap-up first");
    assert_eq!(s.r.poll_timeout(), Some(s.now + secs(10)));
    s.advance(secs(9));
    assert!(s.offers().is_empty());
    s.advance(secs(1));
    assert_eq!(s.offers(), vec![(2, "alice".to_string())]);
}

#[test]
fn agent_wrap_up_overrides_the_queue() {
    let mut cfg = one_agent_one_queue();
    cfg.agents[0].wrap_up = Some(secs(2));
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "sales", 0);
    s.answer_next();
    s.end(1, "alice");
    s.advance(secs(2));
    assert_eq!(s.state("alice"), AgentState::Available);
}

#[test]
fn unskilled_agent_is_never_offered() {
    let cfg = RouterConfig {
        agents: vec![agent("bob", &[("en", 1)]), agent("carol", &[("fr", 5)])],
        queues: vec![queue("sales", &[("en", 2)], Strategy::RingAll)],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "sales", 0);
    assert!(s.offers().is_empty());
    s.advance(secs(3600));
    assert!(s.offers().is_empty());
    assert_eq!(s.r.queue_len("sales"), Some(1));
}

#[test]
fn pause_and_unpause() {
    let mut s = Sim::with_all_logged_in(one_agent_one_queue());
    s.r.agent_pause("alice", Some("lunch".into()), s.now)
        .unwrap();
    assert_eq!(s.state("alice"), AgentState::Paused);
    s.enqueue(1, "sales", 0);
    assert!(s.offers().is_empty());
    s.r.agent_unpause("alice", s.now).unwrap();
    assert_eq!(s.offers(), vec![(1, "alice".to_string())]);
}

#[test]
fn logout_while_ringing_puts_the_caller_back() {
    let cfg = RouterConfig {
        agents: vec![agent("alice", &[("en", 3)]), agent("bob", &[("en", 3)])],
        queues: vec![queue("sales", &[("en", 2)], Strategy::Linear)],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    s.r.agent_pause("bob", None, s.now).unwrap();
    s.enqueue(1, "sales", 0);
    assert_eq!(s.offers(), vec![(1, "alice".to_string())]);
    s.r.agent_logout("alice", s.now).unwrap();
    let ev = s.drain();
    assert!(ev.contains(&RouterEvent::CancelRing {
        call: 1,
        agent: "alice".into()
    }));
    s.r.agent_unpause("bob", s.now).unwrap();
    assert_eq!(s.offers(), vec![(1, "bob".to_string())]);
}

#[test]
fn errors() {
    let mut s = Sim::with_all_logged_in(one_agent_one_queue());
    assert_eq!(
        s.r.enqueue(1, "nope", 0, "x", s.now),
        Err(RouterError::UnknownQueue("nope".into()))
    );
    assert_eq!(
        s.r.agent_login("nobody", s.now),
        Err(RouterError::UnknownAgent("nobody".into()))
    );
    s.enqueue(1, "sales", 0);
    assert_eq!(
        s.r.enqueue(1, "sales", 0, "x", s.now),
        Err(RouterError::DuplicateCall(1))
    );
}

#[test]
fn abandon_while_ringing_frees_the_agent() {
    let mut s = Sim::with_all_logged_in(one_agent_one_queue());
    s.enqueue(1, "sales", 0);
    s.offers();
    s.r.abandon(1, s.now);
    let ev = s.drain();
    assert!(ev.contains(&RouterEvent::CancelRing {
        call: 1,
        agent: "alice".into()
    }));
    assert_eq!(s.state("alice"), AgentState::Available);
    assert_eq!(s.r.queue_len("sales"), Some(0));
}

#[test]
fn idle_router_has_no_deadline() {
    let mut s = Sim::with_all_logged_in(one_agent_one_queue());
    assert_eq!(s.r.poll_timeout(), None);
    s.enqueue(1, "sales", 0);
    s.answer_next();
    assert_eq!(
        s.r.poll_timeout(),
        None,
        "ring timer is stale after the answer"
    );
}
