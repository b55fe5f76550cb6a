//! Sticky agent (the agent who served this caller last) and preferred agent.

mod common;
use common::*;
use router::*;

fn cfg() -> RouterConfig {
    RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("en", 1)])],
        queues: vec![QueueConfig {
            sticky_window: Some(secs(3600)),
            sticky_wait: secs(20),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    }
}

/// Caller "+1" is served by b (a busy), then calls back.
fn served_by_b(s: &mut Sim) {
    s.enqueue(100, "q", 0);
    s.answer_next(); // a
    s.r.enqueue(1, "q", 0, "+1", s.now).unwrap();
    assert_eq!(s.offers(), vec![(1, "b".to_string())]);
    s.answer(1, "b");
    s.advance(secs(60));
    s.end(1, "b");
    s.end(100, "a");
    s.drain();
}

#[test]
fn returning_caller_goes_to_the_same_agent() {
    let mut s = Sim::with_all_logged_in(cfg());
    served_by_b(&mut s);
    s.r.enqueue(2, "q", 0, "+1", s.now).unwrap();
    assert_eq!(
        s.offers(),
        vec![(2, "b".to_string())],
        "linear would pick a"
    );
}

#[test]
fn waits_for_the_busy_sticky_agent_then_falls_back() {
    let mut s = Sim::with_all_logged_in(cfg());
    served_by_b(&mut s);
    s.enqueue(50, "q", 0);
    s.enqueue(51, "q", 0);
    for (c, a) in s.offers() {
        s.answer(c, &a); // 50 -> a, 51 -> b
    }
    s.end(50, "a"); // a free (wrap 0), b still busy
    s.drain();
    s.r.enqueue(2, "q", 0, "+1", s.now).unwrap();
    assert!(s.offers().is_empty(), "held for b");
    s.advance(secs(20));
    assert_eq!(
        s.offers(),
        vec![(2, "a".to_string())],
        "fallback after sticky_wait"
    );
}

#[test]
fn sticky_agent_freed_takes_its_caller() {
    let mut s = Sim::with_all_logged_in(cfg());
    served_by_b(&mut s);
    s.enqueue(50, "q", 0);
    s.enqueue(51, "q", 0);
    let o = s.offers();
    for (c, a) in &o {
        s.answer(*c, a);
    }
    s.r.enqueue(2, "q", 0, "+1", s.now).unwrap();
    s.enqueue(3, "q", 0);
    s.advance(secs(5));
    let b_call = o.iter().find(|(_, a)| a == "b").unwrap().0;
    s.end(b_call, "b");
    assert_eq!(s.offers(), vec![(2, "b".to_string())]);
}

#[test]
fn sticky_window_expires() {
    let mut s = Sim::with_all_logged_in(cfg());
    served_by_b(&mut s);
    s.advance(secs(3601));
    s.r.enqueue(2, "q", 0, "+1", s.now).unwrap();
    assert_eq!(s.offers(), vec![(2, "a".to_string())]);
}

#[test]
fn preferred_agent_by_request() {
    let mut s = Sim::with_all_logged_in(RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("en", 1)])],
        queues: vec![queue("q", &[("en", 1)], Strategy::Linear)],
    });
    let opts = EnqueueOptions {
        preferred_agent: Some("b".into()),
        preferred_wait: Some(secs(5)),
        ..Default::default()
    };
    s.r.enqueue_with(1, "q", 0, "x", opts.clone(), s.now)
        .unwrap();
    assert_eq!(s.offers(), vec![(1, "b".to_string())]);
    s.answer(1, "b");
    s.r.enqueue_with(2, "q", 0, "y", opts, s.now).unwrap();
    assert!(s.offers().is_empty());
    s.advance(secs(5));
    assert_eq!(s.offers(), vec![(2, "a".to_string())]);
}

#[test]
fn sticky_agent_logging_out_releases_the_caller() {
    let mut s = Sim::with_all_logged_in(cfg());
    served_by_b(&mut s);
    s.enqueue(50, "q", 0);
    s.enqueue(51, "q", 0);
    let o = s.offers();
    for (c, a) in &o {
        s.answer(*c, a);
    }
    s.r.enqueue(2, "q", 0, "+1", s.now).unwrap();
    s.r.agent_pause("b", None, s.now).unwrap();
    let a_call = o.iter().find(|(_, a)| a == "a").unwrap().0;
    s.end(a_call, "a");
    assert_eq!(s.offers(), vec![(2, "a".to_string())]);
}
