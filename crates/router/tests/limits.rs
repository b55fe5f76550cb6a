//! Max length, max wait, join/leave when empty, overflow.

mod common;
use common::*;
use router::*;

fn exits(ev: &[RouterEvent]) -> Vec<(CallKey, ExitReason)> {
    ev.iter()
        .filter_map(|e| match e {
            RouterEvent::Exit { call, reason, .. } => Some((*call, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn max_len_refuses() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)])],
        queues: vec![QueueConfig {
            max_len: Some(2),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    };
    let mut s = Sim::new(cfg);
    s.enqueue(1, "q", 0);
    s.enqueue(2, "q", 0);
    assert_eq!(
        s.r.enqueue(3, "q", 0, "x", s.now),
        Err(RouterError::QueueFull)
    );
    assert!(s
        .drain()
        .iter()
        .any(|e| matches!(e, RouterEvent::Log(QueueLogEvent::ExitFull { call: 3, .. }))));
    s.r.abandon(1, s.now);
    s.enqueue(3, "q", 0);
}

#[test]
fn max_wait_exits() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)])],
        queues: vec![QueueConfig {
            max_wait: Some(secs(120)),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    };
    let mut s = Sim::new(cfg);
    s.enqueue(1, "q", 0);
    s.advance(secs(119));
    assert!(exits(&s.drain()).is_empty());
    s.advance(secs(1));
    assert_eq!(exits(&s.drain()), vec![(1, ExitReason::Timeout)]);
    assert_eq!(s.r.queue_len("q"), Some(0));
}

#[test]
fn max_wait_does_not_cut_a_ringing_offer() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)])],
        queues: vec![QueueConfig {
            max_wait: Some(secs(10)),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    };
    let mut s = Sim::new(cfg);
    s.enqueue(1, "q", 0);
    s.advance(secs(5));
    s.r.agent_login("a", s.now).unwrap();
    s.drain();
    s.advance(secs(6));
    assert!(exits(&s.drain()).is_empty(), "still ringing");
    s.r.ring_failed(1, "a", RingFailure::NoAnswer, s.now);
    assert_eq!(exits(&s.drain()), vec![(1, ExitReason::Timeout)]);
}

#[test]
fn overflow_on_timeout_keeps_priority_and_entry_time() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("backup", 1)])],
        queues: vec![
            QueueConfig {
                max_wait: Some(secs(30)),
                overflow: Some(Overflow::Queue("backup".into())),
                ..queue("q", &[("en", 1)], Strategy::Linear)
            },
            queue("backup", &[("backup", 1)], Strategy::Linear),
        ],
    };
    let mut s = Sim::new(cfg);
    s.enqueue(1, "q", 3);
    s.advance(secs(10));
    s.enqueue(2, "backup", 3);
    s.advance(secs(20));
    let ev = s.drain();
    assert!(ev.contains(&RouterEvent::Moved {
        call: 1,
        from: "q".into(),
        to: "backup".into()
    }));
    assert!(exits(&ev).is_empty());
    s.r.agent_login("b", s.now).unwrap();
    assert_eq!(
        s.offers(),
        vec![(1, "b".to_string())],
        "caller 1 entered earlier than caller 2"
    );
}

#[test]
fn overflow_when_full() {
    let cfg = RouterConfig {
        agents: vec![],
        queues: vec![
            QueueConfig {
                max_len: Some(1),
                overflow: Some(Overflow::Queue("b".into())),
                ..queue("a", &[], Strategy::Linear)
            },
            queue("b", &[], Strategy::Linear),
        ],
    };
    let mut s = Sim::new(cfg);
    s.enqueue(1, "a", 0);
    s.enqueue(2, "a", 0);
    assert!(s.drain().contains(&RouterEvent::Moved {
        call: 2,
        from: "a".into(),
        to: "b".into()
    }));
    assert_eq!((s.r.queue_len("a"), s.r.queue_len("b")), (Some(1), Some(1)));
}

#[test]
fn overflow_to_a_number_is_an_exit() {
    let cfg = RouterConfig {
        agents: vec![],
        queues: vec![QueueConfig {
            max_wait: Some(secs(5)),
            overflow: Some(Overflow::Number("+15550000".into())),
            ..queue("a", &[], Strategy::Linear)
        }],
    };
    let mut s = Sim::new(cfg);
    s.enqueue(1, "a", 0);
    s.advance(secs(5));
    assert_eq!(exits(&s.drain()), vec![(1, ExitReason::Timeout)]);
}

#[test]
fn join_empty_refuses() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)])],
        queues: vec![QueueConfig {
            join_empty: Some(Emptiness::NoReadyAgents),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    };
    let mut s = Sim::new(cfg);
    assert_eq!(
        s.r.enqueue(1, "q", 0, "x", s.now),
        Err(RouterError::NoAgents("q".into()))
    );
    s.r.agent_login("a", s.now).unwrap();
    s.r.agent_pause("a", None, s.now).unwrap();
    assert_eq!(
        s.r.enqueue(1, "q", 0, "x", s.now),
        Err(RouterError::NoAgents("q".into()))
    );
    s.r.agent_unpause("a", s.now).unwrap();
    s.enqueue(1, "q", 0);
}

#[test]
fn leave_empty_exits_waiting_callers() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("b", &[("en", 1)])],
        queues: vec![QueueConfig {
            leave_empty: Some(Emptiness::NoAgents),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    s.enqueue(1, "q", 0);
    s.enqueue(2, "q", 0);
    s.enqueue(3, "q", 0);
    s.enqueue(4, "q", 0);
    for (c, a) in s.offers() {
        s.answer(c, &a);
    }
    s.r.agent_logout("a", s.now).unwrap();
    assert!(exits(&s.drain()).is_empty(), "b still logged in");
    s.r.agent_logout("b", s.now).unwrap();
    assert_eq!(
        exits(&s.drain()),
        vec![(3, ExitReason::Empty), (4, ExitReason::Empty)]
    );
}

#[test]
fn validate_names_the_problem() {
    let cfg = RouterConfig {
        agents: vec![agent("a", &[("en", 1)]), agent("a", &[])],
        queues: vec![QueueConfig {
            overflow: Some(Overflow::Queue("nowhere".into())),
            ..queue("q", &[("spanish", 1)], Strategy::Linear)
        }],
    };
    let issues: Vec<String> = cfg.validate().iter().map(|i| i.to_string()).collect();
    assert!(
        issues
            .iter()
            .any(|i| i.contains("agents[1].id") && i.contains("twice")),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.contains("\"spanish\"") && i.contains("no agent")),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.contains("unknown queue \"nowhere\"")),
        "{issues:?}"
    );
}

#[test]
fn an_admin_moves_a_waiting_caller_and_a_ringing_one() {
    let cfg = RouterConfig {
        agents: vec![
            agent("en-agent", &[("en", 1)]),
            agent("es-agent", &[("es", 1)]),
        ],
        queues: vec![
            queue("english", &[("en", 1)], Strategy::Linear),
            queue("spanish", &[("es", 1)], Strategy::Linear),
        ],
    };
    let mut s = Sim::with_all_logged_in(cfg);
    // Caller 1 rings the English agent; caller 2 waits behind it.
    s.enqueue(1, "english", 0);
    s.enqueue(2, "english", 0);
    assert_eq!(s.offers(), vec![(1, "en-agent".to_string())]);
    // Moving the ringing caller cancels its offer and offers it in Spanish.
    s.r.move_call(1, "spanish", s.now).unwrap();
    let ev = s.drain();
    assert!(
        ev.iter().any(
            |e| matches!(e, RouterEvent::CancelRing { call: 1, agent } if agent == "en-agent")
        ),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, RouterEvent::Moved { call: 1, from, to } if from == "english" && to == "spanish")), "{ev:?}");
    assert!(
        ev.iter()
            .any(|e| matches!(e, RouterEvent::Offer { call: 1, agent, .. } if agent == "es-agent")),
        "{ev:?}"
    );
    // The freed English agent takes the next caller at once.
    assert!(
        ev.iter()
            .any(|e| matches!(e, RouterEvent::Offer { call: 2, agent, .. } if agent == "en-agent")),
        "{ev:?}"
    );
    assert!(ev
        .iter()
        .any(|e| matches!(e, RouterEvent::Log(QueueLogEvent::Overflow { call: 1, .. }))));
    // Unknown targets and connected calls are refused.
    assert_eq!(
        s.r.move_call(2, "nowhere", s.now),
        Err(RouterError::UnknownQueue("nowhere".into()))
    );
    s.answer(1, "es-agent");
    assert_eq!(
        s.r.move_call(1, "english", s.now),
        Err(RouterError::NotWaiting(1))
    );
    assert_eq!(
        s.r.move_call(99, "english", s.now),
        Err(RouterError::NotWaiting(99))
    );
}
