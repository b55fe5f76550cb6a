//! A caller can need skills on top of its queue's requirement.

mod common;
use common::*;
use router::*;

fn cfg() -> RouterConfig {
    RouterConfig {
        agents: vec![
            agent("en", &[("en", 3)]),
            agent("bilingual", &[("en", 3), ("fr", 2)]),
        ],
        queues: vec![QueueConfig {
            relax: vec![RelaxStep {
                after: secs(30),
                require: skills(&[("en", 1)]),
                max_penalty: None,
            }],
            ..queue("support", &[("en", 2)], Strategy::Linear)
        }],
    }
}

fn needs_fr() -> EnqueueOptions {
    EnqueueOptions {
        require: skills(&[("fr", 1)]),
        ..Default::default()
    }
}

#[test]
fn only_agents_with_the_extra_skill_are_offered() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.enqueue_with(1, "support", 0, "x", needs_fr(), s.now)
        .unwrap();
    assert_eq!(
        s.offers(),
        vec![(1, "bilingual".to_string())],
        "linear would pick en first"
    );
    s.enqueue(2, "support", 0);
    assert_eq!(s.offers(), vec![(2, "en".to_string())]);
}

#[test]
fn extra_skill_survives_relaxation_and_reload() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_pause("bilingual", None, s.now).unwrap();
    s.r.enqueue_with(1, "support", 0, "x", needs_fr(), s.now)
        .unwrap();
    s.advance(secs(60));
    assert!(s.offers().is_empty(), "relaxed to en:1, still needs fr");
    s.r.reload(cfg(), s.now);
    assert!(s.offers().is_empty());
    s.r.agent_unpause("bilingual", s.now).unwrap();
    assert_eq!(s.offers(), vec![(1, "bilingual".to_string())]);
    s.r.check_invariants().unwrap();
}

#[test]
fn a_freed_agent_takes_the_oldest_caller_it_can_serve() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.enqueue(100, "support", 0);
    s.enqueue(101, "support", 0);
    for (c, a) in s.offers() {
        s.answer(c, &a);
    }
    s.enqueue(1, "support", 0);
    s.advance(secs(1));
    s.r.enqueue_with(2, "support", 0, "x", needs_fr(), s.now)
        .unwrap();
    s.end(100, "en");
    assert_eq!(s.offers(), vec![(1, "en".to_string())]);
    s.end(101, "bilingual");
    assert_eq!(s.offers(), vec![(2, "bilingual".to_string())]);
    let pos = s.r.call_status(2, s.now);
    assert!(matches!(pos, Some(CallStatus::Ringing { .. })), "{pos:?}");
    s.r.check_invariants().unwrap();
}

#[test]
fn positions_count_callers_with_and_without_extras() {
    let mut s = Sim::new(cfg());
    s.enqueue(1, "support", 0);
    s.r.enqueue_with(2, "support", 0, "x", needs_fr(), s.now)
        .unwrap();
    s.enqueue(3, "support", 0);
    match s.r.call_status(3, s.now) {
        Some(CallStatus::Waiting { position, .. }) => assert_eq!(position, 3),
        other => panic!("{other:?}"),
    }
}
