//! Per-queue occupancy over the rolling windows, on a simulated clock:
//! time the queue's members were busy with calls (ringing, talking,
//! wrap-up) / time they were staffed (logged in, unpaused).

mod common;
use common::*;
use router::*;

/// `a` serves q1 and q2, `b` only q2; 10 s wrap-up everywhere.
fn two_queues() -> RouterConfig {
    RouterConfig {
        agents: vec![agent("a", &[("x", 1), ("y", 1)]), agent("b", &[("y", 1)])],
        queues: vec![
            QueueConfig {
                wrap_up: secs(10),
                ..queue("q1", &[("x", 1)], Strategy::LongestIdle)
            },
            QueueConfig {
                wrap_up: secs(10),
                ..queue("q2", &[("y", 1)], Strategy::LongestIdle)
            },
        ],
    }
}

fn window(snap: &Snapshot, q: &str, secs: u64) -> WindowStats {
    let qs = snap.queues.iter().find(|x| x.name == q).unwrap();
    qs.windows
        .iter()
        .find(|w| w.window_secs == secs)
        .unwrap()
        .clone()
}

/// (occupancy %, staffed s, busy s) of a queue over its 15-minute window.
fn occ(s: &Sim, q: &str) -> (Option<f64>, u64, u64) {
    let w = window(&s.r.snapshot(s.now), q, 900);
    (w.occupancy_pct, w.staffed_secs, w.busy_secs)
}

#[test]
fn ringing_talk_and_wrap_up_count_as_busy() {
    let mut s = Sim::new(two_queues());
    s.r.agent_login("a", s.now).unwrap();
    s.drain();
    s.advance(secs(10));
    s.enqueue(1, "q1", 0);
    s.advance(secs(2)); // ringing
    s.answer_next();
    s.advance(secs(60));
    s.end(1, "a");
    s.advance(secs(10)); // wrap-up, then available
    s.advance(secs(18));
    assert_eq!(s.state("a"), AgentState::Available);
    // Staffed 100 s, busy 2 + 60 + 10 = 72 s.
    assert_eq!(occ(&s, "q1"), (Some(72.0), 100, 72));
    // Nobody staffed q2's other seat: `a` counts there too.
    assert_eq!(occ(&s, "q2"), (Some(72.0), 100, 72));
}

#[test]
fn an_agent_in_several_queues_counts_in_each() {
    let mut s = Sim::with_all_logged_in(two_queues());
    s.advance(secs(20));
    s.enqueue(1, "q1", 0);
    let (_, who) = s.answer_next();
    assert_eq!(who, "a");
    s.advance(secs(50));
    s.end(1, "a");
    s.advance(secs(10)); // wrap-up
    s.advance(secs(20));
    // 100 s: `a` busy 60 s. q1 has only `a`; q2 has `a` and idle `b`.
    assert_eq!(occ(&s, "q1"), (Some(60.0), 100, 60));
    assert_eq!(occ(&s, "q2"), (Some(30.0), 200, 60));
    // A pause is not staffed time: `b` paused for 50 s.
    s.r.agent_pause("b", Some("lunch".into()), s.now).unwrap();
    s.advance(secs(50));
    s.r.agent_unpause("b", s.now).unwrap();
    s.drain();
    // q2: staffed 150 (a) + 100 (b) = 250, busy 60.
    assert_eq!(occ(&s, "q2"), (Some(24.0), 250, 60));
    // Logged-out time is not staffed either.
    s.r.agent_logout("b", s.now).unwrap();
    s.advance(secs(100));
    assert_eq!(occ(&s, "q2"), (Some(60.0 * 100.0 / 350.0), 350, 60));
    assert_eq!(occ(&s, "q1"), (Some(60.0 * 100.0 / 250.0), 250, 60));
}

#[test]
fn busy_time_leaves_the_short_window_but_not_the_long_one() {
    let mut s = Sim::with_all_logged_in(two_queues());
    s.r.agent_logout("b", s.now).unwrap();
    s.enqueue(1, "q1", 0);
    s.answer_next();
    s.advance(secs(110));
    s.end(1, "a");
    s.advance(secs(10));
    // 2 hours later: the 15-minute window holds only idle time (slots are
    // whole minutes, so it spans 15 to 16 minutes).
    s.advance(secs(2 * 3600));
    let snap = s.r.snapshot(s.now);
    let short = window(&snap, "q1", 900);
    assert_eq!(short.busy_secs, 0);
    assert_eq!(short.occupancy_pct, Some(0.0));
    assert!((900..=960).contains(&short.staffed_secs), "{short:?}");
    let long = window(&snap, "q1", 24 * 3600);
    assert_eq!((long.staffed_secs, long.busy_secs), (7320, 120));
    // Busy again for the last 5 minutes: the short window sees it at once.
    s.enqueue(2, "q1", 0);
    s.answer_next();
    s.advance(secs(300));
    let short = window(&s.r.snapshot(s.now), "q1", 900);
    assert_eq!(short.busy_secs, 300);
    // A day later everything has left the long window too.
    s.end(2, "a");
    s.r.agent_logout("a", s.now).unwrap();
    s.advance(secs(25 * 3600));
    let long = window(&s.r.snapshot(s.now), "q1", 24 * 3600);
    assert_eq!(
        (long.staffed_secs, long.busy_secs, long.occupancy_pct),
        (0, 0, None)
    );
}

#[test]
fn a_reload_keeps_occupancy_so_far() {
    let mut s = Sim::with_all_logged_in(two_queues());
    s.r.agent_logout("b", s.now).unwrap();
    s.enqueue(1, "q1", 0);
    s.answer_next();
    s.advance(secs(40));
    s.r.reload(two_queues(), s.now);
    s.drain();
    s.advance(secs(40));
    s.end(1, "a");
    s.advance(secs(10));
    s.advance(secs(10));
    // 100 s staffed, busy 40 + 40 + 10 wrap-up.
    assert_eq!(occ(&s, "q1"), (Some(90.0), 100, 90));
    s.r.check_invariants().unwrap();
}

#[test]
fn a_reload_that_moves_an_agent_keeps_its_past_where_it_was() {
    let mut s = Sim::with_all_logged_in(two_queues());
    s.enqueue(1, "q1", 0);
    let (_, who) = s.answer_next();
    assert_eq!(who, "a");
    s.advance(secs(40));
    // `a` loses skill y (leaves q2), `b` gains x (joins q1).
    let mut cfg = two_queues();
    cfg.agents = vec![agent("a", &[("x", 1)]), agent("b", &[("x", 1), ("y", 1)])];
    s.r.reload(cfg.clone(), s.now);
    s.drain();
    s.advance(secs(60));
    // q1: `a` 100 s staffed, 100 busy; `b` only since the reload: 60 idle.
    assert_eq!(occ(&s, "q1"), (Some(100.0 * 100.0 / 160.0), 160, 100));
    // q2: `b` 100 s idle; `a` until the reload: 40 s busy.
    assert_eq!(occ(&s, "q2"), (Some(40.0 * 100.0 / 140.0), 140, 40));
    // Back as before: `a` counts in q2 again from now on only.
    s.r.reload(two_queues(), s.now);
    s.drain();
    s.advance(secs(20));
    assert_eq!(occ(&s, "q2"), (Some(60.0 * 100.0 / 180.0), 180, 60));
    s.r.check_invariants().unwrap();
}

#[test]
fn occupancy_is_serialized_with_the_other_window_figures() {
    let mut s = Sim::with_all_logged_in(two_queues());
    s.advance(secs(60));
    let json = serde_json::to_string(&s.r.snapshot(s.now)).unwrap();
    assert!(json.contains("\"occupancy_pct\":0.0"), "{json}");
    assert!(json.contains("\"staffed_secs\":60"), "{json}");
}
