//! Rolling statistics, snapshot, estimated wait and announcements.

mod common;
use common::*;
use router::*;

fn cfg() -> RouterConfig {
    RouterConfig {
        agents: vec![
            agent("a", &[("en", 1)]),
            agent("b", &[("en", 1), ("fr", 2)]),
        ],
        queues: vec![QueueConfig {
            service_level: secs(20),
            short_abandon: secs(5),
            wrap_up: secs(10),
            ..queue("q", &[("en", 1)], Strategy::Linear)
        }],
    }
}

fn window(s: &Sim, i: usize) -> WindowStats {
    s.r.snapshot(s.now).queues[0].windows[i].clone()
}

#[test]
fn service_level_both_conventions_asa_aht() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_pause("b", None, s.now).unwrap();
    // 1: answered after 10 s (in SL), talks 50 s, wraps 10 s
    s.enqueue(1, "q", 0);
    s.drain();
    s.advance(secs(10));
    s.answer(1, "a");
    // 2: abandons after 3 s (short); 3: abandons after 30 s; 4: answered after 60 s (out of SL)
    s.enqueue(2, "q", 0);
    s.enqueue(3, "q", 0);
    s.enqueue(4, "q", 0);
    s.advance(secs(3));
    s.r.abandon(2, s.now);
    s.advance(secs(27));
    s.r.abandon(3, s.now);
    s.advance(secs(20));
    s.end(1, "a"); // talk 50
    s.advance(secs(10)); // wrap ends -> offer 4 (waited 60)
    s.answer_next();
    s.advance(secs(30));
    s.end(4, "a"); // talk 30
    s.advance(secs(10));
    let w = window(&s, 0);
    assert_eq!(w.window_secs, 900);
    assert_eq!(
        (w.offered, w.answered, w.abandoned, w.short_abandoned),
        (4, 2, 2, 1)
    );
    // with abandons: 1 in SL / (2 answered + 1 real abandon)
    assert!((w.service_level_pct.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    // without: 1 / 2
    assert_eq!(w.service_level_answered_pct, Some(50.0));
    assert_eq!(w.asa_ms, Some(35_000));
    assert_eq!(w.aht_ms, Some(50_000), "(50+10 + 30+10) / 2");
    assert_eq!(w.att_ms, Some(40_000));
}

#[test]
fn windows_forget_old_calls() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.enqueue(1, "q", 0);
    s.answer_next();
    s.end(1, "a");
    s.advance(secs(1000));
    assert_eq!(window(&s, 0).offered, 0);
    assert_eq!(window(&s, 1).offered, 1);
}

#[test]
fn snapshot_counts_agents_by_state_per_queue_and_skill() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_pause("b", Some("training".into()), s.now)
        .unwrap();
    s.enqueue(1, "q", 0);
    s.drain();
    s.enqueue(2, "q", 0);
    s.advance(secs(7));
    let snap = s.r.snapshot(s.now);
    let q = &snap.queues[0];
    assert_eq!((q.waiting, q.ringing, q.longest_wait_ms), (1, 1, 7000));
    assert_eq!((q.agents.ringing, q.agents.paused), (1, 1));
    let fr = snap.skills.iter().find(|k| k.skill == "fr").unwrap();
    assert_eq!(fr.agents.paused, 1);
    let en = snap.skills.iter().find(|k| k.skill == "en").unwrap();
    assert_eq!(en.waiting, 2);
    let b = snap.agents.iter().find(|a| a.id == "b").unwrap();
    assert_eq!(
        (b.state, b.pause_reason.as_deref(), b.in_state_ms),
        (AgentState::Paused, Some("training"), 7000)
    );
    let json = serde_json::to_string(&snap).unwrap();
    assert!(json.contains("\"state\":\"paused\""), "{json}");
}

#[test]
fn occupancy() {
    let mut s = Sim::with_all_logged_in(cfg());
    s.r.agent_logout("b", s.now).unwrap();
    s.enqueue(1, "q", 0);
    s.answer_next();
    s.advance(secs(30));
    s.end(1, "a");
    s.advance(secs(10)); // wrap
    s.advance(secs(60)); // idle
    let snap = s.r.snapshot(s.now);
    let a = snap.agents.iter().find(|a| a.id == "a").unwrap();
    assert_eq!(a.occupancy_pct, Some(40.0));
    assert_eq!(snap.occupancy[0].occupancy_pct, Some(40.0));
}

#[test]
fn estimated_wait_uses_position_agents_and_handle_time() {
    let mut cfg = cfg();
    cfg.queues[0].default_handle_time = secs(120);
    cfg.queues[0].wrap_up = secs(0);
    let mut s = Sim::with_all_logged_in(cfg);
    for c in 1..=2 {
        s.enqueue(c, "q", 0);
    }
    for (c, a) in s.offers() {
        s.answer(c, &a);
    }
    assert_eq!(
        s.r.estimate_wait("q", 0, s.now),
        Some(secs(60)),
        "1st in line, 2 agents, 120 s"
    );
    s.enqueue(3, "q", 0);
    assert_eq!(s.r.estimate_wait("q", 0, s.now), Some(secs(120)));
    assert_eq!(
        s.r.estimate_wait("q", 9, s.now),
        Some(secs(60)),
        "priority jumps the line"
    );
    s.advance(secs(30));
    s.end(1, "a"); // AHT now 30 s; a takes caller 3
    s.answer_next();
    assert_eq!(s.r.estimate_wait("q", 0, s.now), Some(secs(15)));
}

#[test]
fn periodic_announcements() {
    let mut cfg = cfg();
    cfg.queues[0].announce_every = Some(secs(30));
    cfg.queues[0].announce_first = Some(secs(10));
    cfg.queues[0].default_handle_time = secs(60);
    let mut s = Sim::new(cfg);
    s.r.agent_login("a", s.now).unwrap();
    s.r.agent_pause("a", None, s.now).unwrap();
    s.enqueue(1, "q", 0);
    s.enqueue(2, "q", 0);
    s.drain();
    s.advance(secs(10));
    let ann: Vec<RouterEvent> = s
        .drain()
        .into_iter()
        .filter(|e| matches!(e, RouterEvent::Announce { .. }))
        .collect();
    assert_eq!(
        ann,
        vec![
            RouterEvent::Announce {
                call: 1,
                position: 1,
                ewt: secs(60)
            },
            RouterEvent::Announce {
                call: 2,
                position: 2,
                ewt: secs(120)
            }
        ]
    );
    s.r.abandon(1, s.now);
    s.advance(secs(30));
    let ann: Vec<RouterEvent> = s
        .drain()
        .into_iter()
        .filter(|e| matches!(e, RouterEvent::Announce { .. }))
        .collect();
    assert_eq!(
        ann,
        vec![RouterEvent::Announce {
            call: 2,
            position: 1,
            ewt: secs(60)
        }]
    );
}
