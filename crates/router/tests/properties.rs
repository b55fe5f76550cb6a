//! Property tests: random event sequences never break the invariants
//! (capacity, consistency, nobody waits while an able agent is free), no
//! caller is skipped forever, and service order is priority then wait.

mod common;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use proptest::prelude::{
    any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest, ProptestConfig, TestCaseError,
};
use proptest::strategy::Strategy as Gen;
use router::*;

const AGENTS: [&str; 5] = ["a0", "a1", "a2", "a3", "a4"];
const QUEUES: [&str; 4] = ["q0", "q1", "q2", "q3"];

fn config(strategies: &[Strategy; 3], caps: &[u32; 5]) -> RouterConfig {
    let skill_sets: [&[(&str, u8)]; 5] = [
        &[("x", 3)],
        &[("x", 1), ("y", 2)],
        &[("y", 5)],
        &[("x", 5), ("y", 5), ("z", 1)],
        &[("z", 4)],
    ];
    RouterConfig {
        agents: AGENTS
            .iter()
            .zip(skill_sets)
            .zip(caps)
            .map(|((id, s), &cap)| AgentConfig {
                capacity: cap,
                reject_delay: secs(3),
                no_answer_delay: secs(2),
                unreachable_delay: secs(5),
                auto_pause_after: Some(3),
                ..agent(id, s)
            })
            .collect(),
        queues: vec![
            QueueConfig {
                ring_timeout: secs(10),
                wrap_up: secs(4),
                relax: vec![RelaxStep {
                    after: secs(20),
                    require: skills(&[("x", 1)]),
                    max_penalty: None,
                }],
                ..queue("q0", &[("x", 3)], strategies[0])
            },
            QueueConfig {
                ring_timeout: secs(8),
                sticky_window: Some(secs(600)),
                sticky_wait: secs(6),
                max_wait: Some(secs(90)),
                overflow: Some(Overflow::Queue("q2".into())),
                announce_every: Some(secs(15)),
                priority_aging: Some(secs(12)),
                ..queue("q1", &[("y", 2)], strategies[1])
            },
            QueueConfig {
                leave_empty: Some(Emptiness::NoReadyAgents),
                ..queue("q2", &[("z", 1)], strategies[2])
            },
            // shares its free set with q0 relaxed (same requirement and strategy)
            queue("q3", &[("x", 1)], strategies[0]),
        ],
    }
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue { q: usize, prio: u8, caller: u8 },
    Abandon(usize),
    Answer(usize),
    Fail(usize, u8),
    End(usize, bool),
    Login(usize),
    Logout(usize),
    Pause(usize),
    Unpause(usize),
    Advance(u16),
    Reload(usize),
    Housekeep(usize),
}

fn op() -> impl Gen<Value = Op> {
    prop_oneof![
        4 => (0..4usize, 0..3u8, 0..6u8).prop_map(|(q, prio, caller)| Op::Enqueue { q, prio, caller }),
        1 => any::<usize>().prop_map(Op::Abandon),
        4 => any::<usize>().prop_map(Op::Answer),
        2 => (any::<usize>(), 0..3u8).prop_map(|(i, w)| Op::Fail(i, w)),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(i, b)| Op::End(i, b)),
        2 => (0..5usize).prop_map(Op::Login),
        1 => (0..5usize).prop_map(Op::Logout),
        1 => (0..5usize).prop_map(Op::Pause),
        2 => (0..5usize).prop_map(Op::Unpause),
        4 => (0..40u16).prop_map(Op::Advance),
        1 => (0..10usize).prop_map(Op::Reload),
        1 => (0..4usize).prop_map(Op::Housekeep),
    ]
}

fn strategy_list() -> impl Gen<Value = [Strategy; 3]> {
    let one = || prop::sample::select(Strategy::ALL.to_vec());
    (one(), one(), one()).prop_map(|(a, b, c)| [a, b, c])
}

/// The engine's side: which legs ring, which calls talk.
#[derive(Default)]
struct Engine {
    ringing: BTreeSet<(CallKey, String)>,
    talking: BTreeMap<CallKey, String>,
    gone: BTreeSet<CallKey>,
}

impl Engine {
    fn absorb(&mut self, ev: Vec<RouterEvent>) -> Result<(), TestCaseError> {
        for e in ev {
            match e {
                RouterEvent::Offer { call, agent, .. } => {
                    prop_assert!(
                        !self.gone.contains(&call),
                        "offer for a call that left: {call}"
                    );
                    prop_assert!(
                        !self.talking.contains_key(&call),
                        "offer for a connected call {call}"
                    );
                    prop_assert!(self.ringing.insert((call, agent)), "double offer");
                }
                RouterEvent::CancelRing { call, agent }
                | RouterEvent::RingTimeout { call, agent } => {
                    self.ringing.remove(&(call, agent));
                }
                RouterEvent::Exit { call, .. } => {
                    prop_assert!(
                        !self.ringing.iter().any(|(c, _)| *c == call),
                        "exit while ringing"
                    );
                    self.gone.insert(call);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn pick<T: Clone>(v: impl IntoIterator<Item = T>, i: usize) -> Option<T> {
    let v: Vec<T> = v.into_iter().collect();
    (!v.is_empty()).then(|| v[i % v.len()].clone())
}

fn run(strategies: [Strategy; 3], caps: [u32; 5], ops: Vec<Op>) -> Result<(), TestCaseError> {
    let cfg = config(&strategies, &caps);
    let mut s = Sim::new(cfg.clone());
    let mut eng = Engine::default();
    let mut next_call = 1u64;
    for op in ops {
        match op {
            Op::Enqueue { q, prio, caller } => {
                let opts = EnqueueOptions {
                    require: if caller % 3 == 0 {
                        skills(&[("y", 1)])
                    } else {
                        Default::default()
                    },
                    ..Default::default()
                };
                let _ = s.r.enqueue_with(
                    next_call,
                    QUEUES[q],
                    prio,
                    &format!("c{caller}"),
                    opts,
                    s.now,
                );
                next_call += 1;
            }
            Op::Abandon(i) => {
                if let Some(c) = pick(
                    (1..next_call)
                        .filter(|c| !eng.gone.contains(c) && !eng.talking.contains_key(c)),
                    i,
                ) {
                    s.r.abandon(c, s.now);
                    eng.gone.insert(c);
                    eng.ringing.retain(|(k, _)| *k != c);
                }
            }
            Op::Answer(i) => {
                if let Some((c, a)) = pick(eng.ringing.iter().cloned(), i) {
                    s.r.ring_answered(c, &a, s.now);
                    eng.ringing.remove(&(c, a.clone()));
                    eng.talking.insert(c, a);
                }
            }
            Op::Fail(i, w) => {
                if let Some((c, a)) = pick(eng.ringing.iter().cloned(), i) {
                    let why = [
                        RingFailure::Rejected,
                        RingFailure::NoAnswer,
                        RingFailure::Unreachable,
                    ][w as usize];
                    s.r.ring_failed(c, &a, why, s.now);
                    eng.ringing.remove(&(c, a));
                }
            }
            Op::End(i, by_agent) => {
                if let Some((c, a)) = pick(eng.talking.iter().map(|(c, a)| (*c, a.clone())), i) {
                    let by = if by_agent {
                        EndedBy::Agent
                    } else {
                        EndedBy::Caller
                    };
                    s.r.call_ended_by(c, &a, by, s.now);
                    eng.talking.remove(&c);
                    eng.gone.insert(c);
                }
            }
            Op::Login(a) => s.r.agent_login(AGENTS[a], s.now).unwrap(),
            Op::Logout(a) => s.r.agent_logout(AGENTS[a], s.now).unwrap(),
            Op::Pause(a) => {
                let _ = s.r.agent_pause(AGENTS[a], Some("p".into()), s.now);
            }
            Op::Unpause(a) => {
                let _ = s.r.agent_unpause(AGENTS[a], s.now);
            }
            Op::Advance(n) => s.advance(Duration::from_millis(u64::from(n) * 500)),
            Op::Reload(k) => {
                let mut st = strategies;
                st[k % 3] = Strategy::ALL[k];
                s.r.reload(config(&st, &caps), s.now);
            }
            Op::Housekeep(budget) => {
                s.r.housekeep(budget);
            }
        }
        let ev = s.drain();
        eng.absorb(ev)?;
        if let Err(e) = s.r.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }

    // Drain: no more arrivals, every agent works, every offer is answered,
    // every call ends. Every caller must eventually be served or leave.
    for a in AGENTS {
        s.r.agent_login(a, s.now).unwrap();
        s.r.agent_unpause(a, s.now).unwrap();
    }
    for _ in 0..2000 {
        let ev = s.drain();
        eng.absorb(ev)?;
        let rings: Vec<_> = eng.ringing.iter().cloned().collect();
        for (c, a) in rings {
            if eng.ringing.remove(&(c, a.clone())) && !eng.talking.contains_key(&c) {
                s.r.ring_answered(c, &a, s.now);
                eng.talking.insert(c, a);
                let ev = s.drain();
                eng.absorb(ev)?;
            }
        }
        let talking: Vec<_> = eng.talking.iter().map(|(c, a)| (*c, a.clone())).collect();
        for (c, a) in talking {
            s.r.call_ended(c, &a, s.now);
            eng.talking.remove(&c);
            eng.gone.insert(c);
        }
        for a in AGENTS {
            let _ = s.r.agent_unpause(a, s.now);
        }
        s.advance(secs(5));
        if let Err(e) = s.r.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
        if QUEUES.iter().all(|q| s.r.queue_len(q) == Some(0))
            && eng.ringing.is_empty()
            && eng.talking.is_empty()
        {
            return Ok(());
        }
    }
    let snap = s.r.snapshot(s.now);
    Err(TestCaseError::fail(format!(
        "callers never served: {:?}",
        snap.queues
            .iter()
            .map(|q| (&q.name, q.waiting, q.ringing))
            .collect::<Vec<_>>()
    )))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_event_sequences_keep_invariants_and_serve_everyone(
        strategies in strategy_list(),
        caps in prop::array::uniform5(1u32..3),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(strategies, caps, ops)?;
    }

    /// One agent serving three queues takes callers strictly by priority,
    /// then entry time, whatever queue they are in.
    #[test]
    fn service_order_is_priority_then_wait_across_queues(
        calls in prop::collection::vec((0..3usize, 0..4u8, 0..5u64), 1..40),
    ) {
        let cfg = RouterConfig {
            agents: vec![agent("solo", &[("x", 5), ("y", 5), ("z", 5)])],
            queues: QUEUES.iter().zip(["x", "y", "z"]).map(|(q, sk)| queue(q, &[(sk, 1)], Strategy::LongestIdle)).collect(),
        };
        let mut s = Sim::new(cfg);
        let mut expected = Vec::new();
        for (i, (q, prio, gap)) in calls.iter().enumerate() {
            s.advance(secs(*gap));
            let key = i as u64 + 1;
            s.enqueue(key, QUEUES[*q], *prio);
            expected.push((std::cmp::Reverse(*prio), s.now, key));
        }
        expected.sort();
        s.r.agent_login("solo", s.now).unwrap();
        let mut served = Vec::new();
        for _ in 0..calls.len() {
            let (c, a) = s.answer_next();
            served.push(c);
            s.advance(secs(1));
            s.end(c, &a);
        }
        let expected: Vec<u64> = expected.into_iter().map(|(_, _, k)| k).collect();
        prop_assert_eq!(served, expected);
    }
}
