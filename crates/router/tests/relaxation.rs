//! Bullseye: requirements change with the wait, for callers already waiting.

mod common;
use common::*;
use router::*;

fn cfg() -> RouterConfig {
    RouterConfig {
        agents: vec![
            agent("junior", &[("en", 2)]),
            agent("senior", &[("en", 5), ("billing", 3)]),
        ],
        queues: vec![QueueConfig {
            relax: vec![
                RelaxStep {
                    after: secs(30),
                    require: skills(&[("en", 4)]),
                    max_penalty: None,
                },
                RelaxStep {
                    after: secs(60),
                    require: skills(&[("en", 1)]),
                    max_penalty: None,
                },
            ],
            ..queue(
                "billing",
                &[("en", 4), ("billing", 3)],
                Strategy::LongestIdle,
            )
        }],
    }
}

#[test]
fn waiting_caller_reaches_less_skilled_agents_over_time() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_pause("senior", None, s.now).unwrap();
    s.enqueue(1, "billing", 0);
    s.advance(secs(59));
    assert!(s.offers().is_empty(), "junior lacks billing and en:4");
    s.advance(secs(1));
    assert_eq!(s.offers(), vec![(1, "junior".to_string())]);
}

#[test]
fn new_callers_still_start_strict() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_pause("senior", None, s.now).unwrap();
    s.enqueue(1, "billing", 0);
    s.advance(secs(60));
    let (_, a) = s.answer_next();
    s.end(1, &a);
    s.enqueue(2, "billing", 0);
    assert!(s.offers().is_empty());
}

#[test]
fn a_step_can_add_a_skill() {
    let cfg = RouterConfig {
        agents: vec![
            agent("a", &[("en", 3)]),
            agent("b", &[("en", 3), ("vip", 1)]),
        ],
        queues: vec![QueueConfig {
            relax: vec![RelaxStep {
                after: secs(10),
                require: skills(&[("en", 1), ("vip", 1)]),
                max_penalty: None,
            }],
            ..queue("q", &[("en", 5)], Strategy::Linear)
        }],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.advance(secs(10));
    assert_eq!(s.offers(), vec![(1, "b".to_string())]);
}

#[test]
fn relaxed_callers_keep_their_order() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_pause("senior", None, s.now).unwrap();
    s.r.agent_pause("junior", None, s.now).unwrap();
    s.enqueue(1, "billing", 0);
    s.advance(secs(40));
    s.enqueue(2, "billing", 0);
    s.advance(secs(100));
    s.r.agent_unpause("junior", s.now).unwrap();
    let (c, _) = s.answer_next();
    assert_eq!(c, 1);
}

#[test]
fn penalty_limit_relaxes() {
    let mut a = agent("overflow", &[("en", 1)]);
    a.queues = [("q".to_string(), 10)].into();
    let cfg = RouterConfig {
        agents: vec![a],
        queues: vec![QueueConfig {
            max_penalty: Some(0),
            relax: vec![RelaxStep {
                after: secs(20),
                require: skills(&[("en", 1)]),
                max_penalty: None,
            }],
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.advance(secs(19));
    assert!(s.offers().is_empty());
    s.advance(secs(1));
    assert_eq!(s.offers().len(), 1);
}
