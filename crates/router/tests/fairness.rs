//! Priority, then longest wait — across every queue an agent serves.

mod common;
use common::*;
use router::*;

fn multi() -> RouterConfig {
    RouterConfig {
        agents: vec![agent("a", &[("en", 1), ("fr", 1)])],
        queues: vec![
            queue("en", &[("en", 1)], Strategy::LongestIdle),
            queue("fr", &[("fr", 1)], Strategy::LongestIdle),
        ],
    }
}

fn busy_agent(s: &mut Sim) {
    s.enqueue(999, "en", 0);
    s.answer_next();
}

#[test]
fn longest_wait_across_queues() {
    let mut s = Sim::with_all_logged_in(multi());
    busy_agent(&mut s);
    s.enqueue(1, "fr", 0);
    s.advance(secs(5));
    s.enqueue(2, "en", 0);
    s.advance(secs(5));
    s.end(999, "a");
    assert_eq!(
        s.offers(),
        vec![(1, "a".to_string())],
        "fr caller waited longer"
    );
}

#[test]
fn priority_beats_wait_across_queues() {
    let mut s = Sim::with_all_logged_in(multi());
    busy_agent(&mut s);
    s.enqueue(1, "fr", 0);
    s.advance(secs(60));
    s.enqueue(2, "en", 5);
    s.end(999, "a");
    assert_eq!(s.offers(), vec![(2, "a".to_string())]);
}

#[test]
fn fifo_within_priority() {
    let mut s = Sim::with_all_logged_in(multi());
    busy_agent(&mut s);
    for c in 1..=5 {
        s.enqueue(c, if c % 2 == 0 { "en" } else { "fr" }, 0);
        s.advance(secs(1));
    }
    let mut order = Vec::new();
    let mut current = 999;
    for _ in 0..5 {
        s.end(current, "a");
        let (c, _) = s.answer_next();
        order.push(c);
        current = c;
    }
    assert_eq!(order, [1, 2, 3, 4, 5]);
}

#[test]
fn positions_and_status() {
    let mut s = Sim::with_all_logged_in(multi());
    busy_agent(&mut s);
    s.enqueue(1, "en", 0);
    s.enqueue(2, "en", 0);
    s.enqueue(3, "en", 9);
    let pos = |s: &Sim, c| match s.r.call_status(c, s.now) {
        Some(CallStatus::Waiting { position, .. }) => position,
        other => panic!("{other:?}"),
    };
    assert_eq!((pos(&s, 3), pos(&s, 1), pos(&s, 2)), (1, 2, 3));
    assert_eq!(
        s.r.call_status(999, s.now),
        Some(CallStatus::Connected {
            queue: "en".into(),
            agent: "a".into()
        })
    );
}

#[test]
fn queues_sharing_a_free_set_still_choose_by_their_own_callers() {
    // Same requirement and strategy: one free set for both queues.
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("en", 1)])],
        queues: vec![
            queue("sales", &[("en", 1)], Strategy::LongestIdle),
            queue("support", &[("en", 1)], Strategy::LongestIdle),
        ],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "sales", 0);
    s.enqueue(2, "support", 0);
    let mut got: Vec<String> = s.offers().into_iter().map(|(_, a)| a).collect();
    got.sort();
    assert_eq!(got, ["a", "b"]);
    s.enqueue(3, "support", 0);
    assert!(s.offers().is_empty());
    s.r.ring_failed(1, "a", RingFailure::Rejected, s.now);
    s.drain();
    s.advance(secs(10));
    assert_eq!(
        s.offers(),
        vec![(1, "a".to_string())],
        "sales caller entered before support caller 3"
    );
    s.r.check_invariants().unwrap();
}

#[test]
fn priority_aging_lets_a_low_priority_caller_through() {
    for aging in [None, Some(secs(10))] {
        let mut cfg = multi();
        cfg.queues[0].priority_aging = aging;
        let mut s = Sim::with_all_logged_in(cfg);
        busy_agent(&mut s);
        s.enqueue(1, "en", 0);
        s.advance(secs(35));
        s.enqueue(2, "en", 3);
        s.end(999, "a");
        let (c, _) = s.answer_next();
        assert_eq!(c, if aging.is_some() { 1 } else { 2 }, "aging {aging:?}");
        s.r.check_invariants().unwrap();
    }
}
