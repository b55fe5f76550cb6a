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
