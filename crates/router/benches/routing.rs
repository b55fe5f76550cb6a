//! Routing decision cost at contact-center scale.
//!
//! World: 10,000 agents, 500 queues, 50 skills (5 per agent, levels 1-5;
//! queues need 1 or 2 skills, the 2-skill ones relax to 1 after 30 s), a
//! mix of nine strategies (then again with longest-idle everywhere), and
//! 100,000 waiting callers. Measured, each
//! including the `poll_event` drain:
//!
//! - `agent-free/loaded`: `call_ended` (no wrap-up) on a busy agent while
//!   100k callers wait; the agent takes the best caller across its queues.
//! - `call-arrives/free-agents`: `enqueue` while most agents are free; the
//!   queue's strategy picks one.
//! - `call-arrives/loaded`: `enqueue` while nobody is free (the caller waits).
//! - `agent-free/idle`: `call_ended` with nobody waiting (the agent joins
//!   its free sets).
//!
//! Besides criterion's figures, each scenario prints p50 / p99 / p99.9 and
//! decisions per second over 200,000 timed decisions, and then a scaling
//! table (mixed strategies; 1k / 10k / 50k agents, 10k / 100k waiting)
//! printed in markdown for the README.
//!
//! Run: `cargo bench -p router --bench routing`

// A benchmark measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

/// The router as it runs in the engine, whose global allocator this is
/// (crates/switchboard/src/main.rs; README, "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use router::{
    AgentConfig, CallKey, QueueConfig, RelaxStep, Router, RouterConfig, RouterEvent, Strategy,
};

const SKILLS: usize = 50;
const QUEUES: usize = 500;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `ROUTER_BENCH_WITHOUT=fewest-calls,best-skill` leaves strategies out of
/// the mixed world (to see what one of them costs).
fn without(s: Strategy) -> bool {
    std::env::var("ROUTER_BENCH_WITHOUT")
        .unwrap_or_default()
        .split(',')
        .any(|name| name.trim() == s.as_str())
}

fn skill(i: usize) -> String {
    format!("s{i}")
}

fn config(agents: usize, mixed: bool) -> RouterConfig {
    let mut rng = Lcg(42);
    let strategies: Vec<Strategy> = Strategy::ALL
        .into_iter()
        .filter(|s| *s != Strategy::RingAll)
        .filter(|s| !without(*s))
        .collect();
    let agents = (0..agents)
        .map(|i| {
            let mut skills = std::collections::BTreeMap::new();
            while skills.len() < 5 {
                skills.insert(skill(rng.below(SKILLS)), 1 + rng.below(5) as u8);
            }
            AgentConfig {
                id: format!("agent{i}"),
                skills,
                ..Default::default()
            }
        })
        .collect();
    let queues = (0..QUEUES)
        .map(|j| {
            let mut require = std::collections::BTreeMap::new();
            let primary = skill(j % SKILLS);
            require.insert(primary.clone(), 1 + ((j / SKILLS) % 3) as u8);
            let mut relax = Vec::new();
            if j % 5 < 2 {
                require.insert(skill((j * 7 + 3) % SKILLS), 1);
                relax.push(RelaxStep {
                    after: Duration::from_secs(30),
                    require: [(primary, 1)].into(),
                    max_penalty: None,
                });
            }
            QueueConfig {
                name: format!("queue{j}"),
                require,
                relax,
                strategy: if mixed {
                    strategies[j % strategies.len()]
                } else {
                    Strategy::LongestIdle
                },
                ..Default::default()
            }
        })
        .collect();
    RouterConfig { agents, queues }
}

struct World {
    r: Router,
    now: Instant,
    next_call: CallKey,
    rng: Lcg,
    queues: Vec<String>,
    talking: VecDeque<(CallKey, String)>,
    /// Time spent in [`Router::housekeep`] between decisions (the engine's
    /// idle time), and the decisions it followed.
    housekeeping: Duration,
    decisions: u64,
}

impl World {
    /// `agents` agents all busy talking, `waiting` callers waiting.
    fn loaded(agents: usize, waiting: usize, mixed: bool) -> World {
        let now = Instant::now();
        let cfg = config(agents, mixed);
        let ids: Vec<String> = cfg.agents.iter().map(|a| a.id.clone()).collect();
        let mut w = World {
            r: Router::new(cfg, now),
            now,
            next_call: 1,
            rng: Lcg(7),
            queues: (0..QUEUES).map(|j| format!("queue{j}")).collect(),
            talking: VecDeque::new(),
            housekeeping: Duration::ZERO,
            decisions: 0,
        };
        for _ in 0..waiting + agents {
            w.enqueue_random();
        }
        for id in &ids {
            w.r.agent_login(id, w.now).unwrap();
            w.answer_offers();
        }
        // Top up to `waiting` callers (some agents found nobody to serve).
        while w.waiting() < waiting {
            w.enqueue_random();
            w.answer_offers();
        }
        w
    }

    /// `agents` agents logged in and free, nobody waiting.
    fn idle(agents: usize, mixed: bool) -> World {
        let now = Instant::now();
        let cfg = config(agents, mixed);
        let ids: Vec<String> = cfg.agents.iter().map(|a| a.id.clone()).collect();
        let mut w = World {
            r: Router::new(cfg, now),
            now,
            next_call: 1,
            rng: Lcg(7),
            queues: (0..QUEUES).map(|j| format!("queue{j}")).collect(),
            talking: VecDeque::new(),
            housekeeping: Duration::ZERO,
            decisions: 0,
        };
        for id in &ids {
            w.r.agent_login(id, w.now).unwrap();
        }
        w
    }

    fn waiting(&self) -> usize {
        self.queues
            .iter()
            .map(|q| self.r.queue_len(q).unwrap_or(0))
            .sum::<usize>()
    }

    fn enqueue_random(&mut self) {
        let q = self.rng.below(QUEUES);
        let prio = (self.rng.below(10) == 0) as u8;
        let _ = self
            .r
            .enqueue(self.next_call, &self.queues[q], prio, "", self.now);
        self.next_call += 1;
    }

    /// Answers every pending offer (the engine's side, not timed).
    fn answer_offers(&mut self) {
        while let Some(ev) = self.r.poll_event() {
            if let RouterEvent::Offer { call, agent, .. } = ev {
                self.r.ring_answered(call, &agent, self.now);
                self.talking.push_back((call, agent));
            }
        }
    }

    fn tick(&mut self) {
        self.now += Duration::from_micros(10);
    }

    /// The engine's idle time after a decision: housekeeping until done
    /// (timed apart from the decision).
    fn idle_time(&mut self) {
        let t = Instant::now();
        while self.r.housekeep(64) {}
        self.housekeeping += t.elapsed();
        self.decisions += 1;
    }

    /// Mean housekeeping per decision, printed after a scenario's figures.
    fn report_housekeeping(&mut self, decision_mean_ns: Option<f64>) {
        if self.decisions == 0 {
            return;
        }
        let per = self.housekeeping.as_nanos() as f64 / self.decisions as f64;
        let with = decision_mean_ns.map_or(String::new(), |m| {
            format!(", {:.0} decisions/s counting it", 1e9 / (m + per))
        });
        println!(
            "{:<48} housekeeping (idle time): {per:.0} ns per decision{with}",
            ""
        );
        self.housekeeping = Duration::ZERO;
        self.decisions = 0;
    }

    /// One timed agent-becomes-free step; the rest keeps the world steady.
    /// Returns the time and whether the agent was offered a caller (a
    /// routing decision) or found none (it joins its free sets).
    fn agent_free_step(&mut self) -> (Duration, bool) {
        self.tick();
        let Some((call, agent)) = self.talking.pop_front() else {
            return (Duration::ZERO, false);
        };
        let t = Instant::now();
        self.r.call_ended(call, &agent, self.now);
        let mut offered = None;
        while let Some(ev) = self.r.poll_event() {
            if let RouterEvent::Offer { call, agent, .. } = ev {
                offered = Some((call, agent));
            }
        }
        let dt = t.elapsed();
        let decided = offered.is_some();
        if let Some((call, agent)) = offered {
            self.r.ring_answered(call, &agent, self.now);
            self.talking.push_back((call, agent));
        }
        self.enqueue_random();
        self.answer_offers();
        self.idle_time();
        (dt, decided)
    }

    /// One timed call-arrives decision.
    fn call_arrives_step(&mut self) -> Duration {
        self.tick();
        let q = self.rng.below(QUEUES);
        let call = self.next_call;
        self.next_call += 1;
        let t = Instant::now();
        let _ = self.r.enqueue(call, &self.queues[q], 0, "", self.now);
        let mut offered = None;
        while let Some(ev) = self.r.poll_event() {
            if let RouterEvent::Offer { call, agent, .. } = ev {
                offered = Some((call, agent));
            }
        }
        let dt = t.elapsed();
        match offered {
            // Free the agent again (not timed) so most agents stay free.
            Some((call, agent)) => {
                self.r.ring_answered(call, &agent, self.now);
                self.r.call_ended(call, &agent, self.now);
                self.answer_offers();
            }
            None => {
                // Nobody could take it; do not let unserved callers pile up.
                self.r.abandon(call, self.now);
                while self.r.poll_event().is_some() {}
            }
        }
        self.idle_time();
        dt
    }

    /// One timed arrival into a loaded router (nobody free: the caller waits).
    fn loaded_arrival_step(&mut self) -> Duration {
        self.tick();
        let q = self.rng.below(QUEUES);
        let call = self.next_call;
        self.next_call += 1;
        let t = Instant::now();
        let _ = self.r.enqueue(call, &self.queues[q], 0, "", self.now);
        while self.r.poll_event().is_some() {}
        let dt = t.elapsed();
        self.r.abandon(call, self.now);
        self.answer_offers();
        self.idle_time();
        dt
    }

    /// One timed agent-free decision with nobody waiting.
    fn idle_free_step(&mut self) -> Duration {
        self.tick();
        let q = self.rng.below(QUEUES);
        let call = self.next_call;
        self.next_call += 1;
        let _ = self.r.enqueue(call, &self.queues[q], 0, "", self.now);
        let mut offered = None;
        while let Some(ev) = self.r.poll_event() {
            if let RouterEvent::Offer { call, agent, .. } = ev {
                offered = Some((call, agent));
            }
        }
        let Some((call, agent)) = offered else {
            self.r.abandon(call, self.now);
            while self.r.poll_event().is_some() {}
            return Duration::ZERO;
        };
        self.r.ring_answered(call, &agent, self.now);
        let t = Instant::now();
        self.r.call_ended(call, &agent, self.now);
        while self.r.poll_event().is_some() {}
        let dt = t.elapsed();
        self.idle_time();
        dt
    }
}

/// p50, p99 (ns) and decisions per second of one scenario.
type Figures = Option<(u64, u64, f64)>;

fn report(name: &str, samples: &mut [Duration]) -> Figures {
    let mut ns: Vec<u64> = samples
        .iter()
        .map(|d| d.as_nanos() as u64)
        .filter(|&n| n > 0)
        .collect();
    ns.sort_unstable();
    if ns.is_empty() {
        println!("{name:<48} no samples");
        return None;
    }
    let pct = |p: f64| ns[((ns.len() as f64 * p) as usize).min(ns.len() - 1)];
    let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64;
    println!(
        "{name:<48} n={:>7}  p50={:>6} ns  p99={:>6} ns  p99.9={:>7} ns  mean={:>7.0} ns  {:>10.0} decisions/s",
        ns.len(),
        pct(0.50),
        pct(0.99),
        pct(0.999),
        mean,
        1e9 / mean
    );
    Some((pct(0.50), pct(0.99), 1e9 / mean))
}

/// Agent-free steps, split into routing decisions and "nobody to take".
fn agent_free(name: &str, n: usize, w: &mut World) -> (Figures, Figures) {
    for _ in 0..n / 10 {
        w.agent_free_step();
    }
    let (mut decided, mut idle) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (dt, d) = w.agent_free_step();
        if d {
            decided.push(dt);
        } else {
            idle.push(dt);
        }
    }
    (
        report(&format!("{name}: offered"), &mut decided),
        report(&format!("{name}: none waiting"), &mut idle),
    )
}

fn percentiles(name: &str, n: usize, mut step: impl FnMut() -> Duration) -> Figures {
    for _ in 0..n / 10 {
        step(); // warm up
    }
    let mut samples: Vec<Duration> = (0..n).map(|_| step()).collect();
    report(name, &mut samples)
}

/// A markdown table cell: `p50 / p99 µs (decisions/s)`.
fn cell(f: Figures) -> String {
    match f {
        Some((p50, p99, rate)) => format!(
            "{:.1} / {:.1} µs ({:.0}k/s)",
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            rate / 1000.0
        ),
        None => "–".to_string(),
    }
}

fn bench(c: &mut Criterion) {
    // Debug builds (`cargo test --benches`) only check the bench runs.
    let small = cfg!(debug_assertions);
    let scale = |n: usize| if small { (n / 100).max(10) } else { n };
    let n = scale(200_000);
    if let Ok(only) = std::env::var("ROUTER_BENCH_ONLY") {
        probed(|| quick(&only, n));
        return;
    }
    if !small {
        println!(
            "memory latency (64 MiB pointer chase) at the start: {:.0} ns",
            memory_latency()
        );
    }
    println!(
        "\n--- routing decisions (10,000 agents, 500 queues, 50 skills, nine strategies mixed) ---"
    );
    let t = Instant::now();
    let mut loaded = World::loaded(scale(10_000), scale(100_000), true);
    println!(
        "setup: 10k agents busy, {} callers waiting, built in {:?}",
        loaded.waiting(),
        t.elapsed()
    );
    agent_free("agent-free/loaded (100k waiting)", n, &mut loaded);
    percentiles("call-arrives/loaded (100k waiting, none free)", n, || {
        loaded.loaded_arrival_step()
    });
    let mut idle = World::idle(scale(10_000), true);
    percentiles("call-arrives/free-agents (10k free)", n, || {
        idle.call_arrives_step()
    });
    let f = percentiles("agent-free/idle (nobody waiting)", n, || {
        idle.idle_free_step()
    });
    idle.report_housekeeping(f.map(|f| 1e9 / f.2));

    println!("--- same world, every queue longest-idle (the default strategy) ---");
    {
        let mut w = World::loaded(scale(10_000), scale(100_000), false);
        agent_free("agent-free/loaded (100k waiting)", n, &mut w);
        percentiles("call-arrives/loaded (100k waiting, none free)", n, || {
            w.loaded_arrival_step()
        });
        let mut w = World::idle(scale(10_000), false);
        percentiles("call-arrives/free-agents (10k free)", n, || {
            w.call_arrives_step()
        });
        percentiles("agent-free/idle (nobody waiting)", n, || w.idle_free_step());
        let mut w = World::loaded(scale(10_000), scale(10_000), false);
        agent_free(
            "agent-free/loaded 10000 agents 10000 waiting",
            n / 2,
            &mut w,
        );
    }

    println!("--- scaling (mixed strategies) ---");
    let mut table = vec![
        "| agents | waiting | agent free → offer | call arrives, none free → waits | call arrives, all free → offer | agent free, nobody waiting → listed |".to_string(),
        "|---|---|---|---|---|---|".to_string(),
    ];
    for agents in [1_000, 10_000, 50_000] {
        for waiting in [10_000, 100_000] {
            let mut w = World::loaded(scale(agents), scale(waiting), true);
            let (offered, _) = agent_free(
                &format!("agent-free/loaded {agents} agents {waiting} waiting"),
                n / 4,
                &mut w,
            );
            let waits = percentiles(
                &format!("call-arrives/loaded {agents} agents {waiting} waiting"),
                n / 4,
                || w.loaded_arrival_step(),
            );
            table.push(format!(
                "| {agents} | {waiting} | {} | {} | | |",
                cell(offered),
                cell(waits)
            ));
        }
        let mut w = World::idle(scale(agents), true);
        let arrives = percentiles(
            &format!("call-arrives/free-agents {agents} agents"),
            n / 4,
            || w.call_arrives_step(),
        );
        let listed = percentiles(&format!("agent-free/idle {agents} agents"), n / 4, || {
            w.idle_free_step()
        });
        table.push(format!(
            "| {agents} | 0 | | | {} | {} |",
            cell(arrives),
            cell(listed)
        ));
    }
    println!("\np50 / p99 (decisions per second), mixed strategies:\n");
    for line in table {
        println!("{line}");
    }
    println!();

    let mut g = c.benchmark_group("routing");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("agent-free/loaded", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| loaded.agent_free_step().0).sum())
    });
    g.bench_function("call-arrives/free-agents", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| idle.call_arrives_step()).sum())
    });
    g.bench_function("call-arrives/loaded", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| loaded.loaded_arrival_step()).sum())
    });
    g.bench_function("agent-free/idle", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| idle.idle_free_step()).sum())
    });
    g.finish();
    black_box(&loaded.r);
}

/// The machine's memory latency now, in ns per load: a dependent pointer
/// chase around one random cycle over 64 MiB (far past the caches).
/// Printed before and after a run: on a shared VM the neighbours' memory
/// traffic moves it by tens of percent within minutes, and the routing
/// figures with it, while a compute-only loop stays put
/// (`crates/router/README.md`, "Noise").
fn memory_latency() -> f64 {
    static CYCLE: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let next = CYCLE.get_or_init(|| {
        // Sattolo's shuffle: one cycle through every slot.
        let n = (64 << 20) / std::mem::size_of::<u32>();
        let mut next: Vec<u32> = (0..n as u32).collect();
        let mut rng = Lcg(7);
        for i in (1..n).rev() {
            next.swap(i, rng.below(i));
        }
        next
    });
    let loads = 2_000_000;
    let mut p = 0u32;
    let t = Instant::now();
    for _ in 0..loads {
        p = next[p as usize];
    }
    black_box(p);
    t.elapsed().as_nanos() as f64 / loads as f64
}

/// Runs `f` between two memory-latency probes, and prints them.
fn probed<T>(f: impl FnOnce() -> T) -> T {
    let before = memory_latency();
    let out = f();
    println!(
        "memory latency (64 MiB pointer chase): {before:.0} ns before, {:.0} ns after",
        memory_latency()
    );
    out
}

/// `ROUTER_BENCH_ONLY=<scenario>[-default]` runs one scenario of the
/// 10k-agent world and exits (for callgrind and quick A/B runs):
/// `listed` (agent free, nobody waiting), `listed-anatomy` (the same, with
/// what the slowest listings did; `--features anatomy`), `arrive` (call arrives, agents
/// free), `offer` (agent free, 100k waiting; `offer-10k`: 10k waiting,
/// where most freed agents find nobody and are listed, their memberships
/// and sets cold after a call), `waits` (call arrives, none free); `-default` for longest-idle everywhere. `ROUTER_BENCH_N` sets
/// the number of timed decisions (default 200,000); `ROUTER_BENCH_WITHOUT`
/// leaves strategies out of the mixed world.
fn quick(only: &str, n: usize) {
    let n = std::env::var("ROUTER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    let mixed = !only.ends_with("-default");
    let label = if mixed { "mixed" } else { "default" };
    match only.trim_end_matches("-default") {
        "listed" => {
            let mut w = World::idle(10_000, mixed);
            let f = percentiles(&format!("agent-free/idle ({label})"), n, || {
                w.idle_free_step()
            });
            w.report_housekeeping(f.map(|f| 1e9 / f.2));
        }
        "listed-anatomy" => {
            let mut w = World::idle(10_000, mixed);
            anatomy(&mut w, n);
        }
        "arrive" => {
            let mut w = World::idle(10_000, mixed);
            let f = percentiles(&format!("call-arrives/free-agents ({label})"), n, || {
                w.call_arrives_step()
            });
            w.report_housekeeping(f.map(|f| 1e9 / f.2));
        }
        "offer" | "offer-10k" => {
            let waiting = if only.contains("10k") {
                10_000
            } else {
                100_000
            };
            let mut w = World::loaded(10_000, waiting, mixed);
            agent_free(&format!("agent-free/loaded ({label})"), n, &mut w);
            w.report_housekeeping(None);
        }
        "waits" => {
            let mut w = World::loaded(10_000, 100_000, mixed);
            let f = percentiles(&format!("call-arrives/loaded ({label})"), n, || {
                w.loaded_arrival_step()
            });
            w.report_housekeeping(f.map(|f| 1e9 / f.2));
        }
        other => eprintln!("ROUTER_BENCH_ONLY: unknown scenario {other}"),
    }
}

/// Listings (agent free, nobody waiting) grouped by time, with what each
/// group's listings did on average: which steps make the slowest ones slow.
/// Needs `--features anatomy` (the counts are compiled out otherwise).
/// One listing's time (ns) and step counts.
type Row = (u64, Vec<u64>);

fn anatomy(w: &mut World, n: usize) {
    use router::anatomy::{counts, Step};
    if counts().is_none() {
        eprintln!("listed-anatomy: build with `--features anatomy`");
        return;
    }
    for _ in 0..n / 10 {
        w.idle_free_step(); // warm up
    }
    let mut rows: Vec<Row> = Vec::with_capacity(n);
    for _ in 0..n {
        let before = counts().unwrap_or_default();
        let dt = w.idle_free_step().as_nanos() as u64;
        let after = counts().unwrap_or_default();
        if dt > 0 {
            rows.push((dt, after.iter().zip(before).map(|(a, b)| a - b).collect()));
        }
    }
    rows.sort_by_key(|r| r.0);
    let m = rows.len();
    let groups = [
        ("all", &rows[..]),
        ("p40-p60", &rows[m * 4 / 10..m * 6 / 10]),
        ("p98-p99", &rows[m * 98 / 100..m * 99 / 100]),
        ("slowest 1%", &rows[m * 99 / 100..]),
    ];
    let mean = |rs: &[Row], f: &dyn Fn(&Row) -> u64| {
        rs.iter().map(f).sum::<u64>() as f64 / rs.len().max(1) as f64
    };
    println!(
        "| per listing ({m} listings) | {} |",
        groups.map(|g| g.0).join(" | ")
    );
    println!("|---|{}", "---|".repeat(groups.len()));
    println!(
        "| mean time | {} |",
        groups
            .map(|(_, rs)| format!("{:.0} ns", mean(rs, &|r| r.0)))
            .join(" | ")
    );
    for (i, step) in Step::ALL.iter().enumerate() {
        println!(
            "| {step:?} | {} |",
            groups
                .map(|(_, rs)| format!("{:.2}", mean(rs, &|r| r.1[i])))
                .join(" | ")
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
