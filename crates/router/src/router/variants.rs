//! Per-call extra skill requirements: a queue's *variant* is the queue with
//! some skills added to every step's requirement. Variants get their own
//! buckets, created on first use (one scan of the agents) and rebuilt on
//! reload; callers without extra skills use the queue's own buckets.

use crate::agent::Membership;
use crate::call::Call;
use crate::free_set::FreeSet;
use crate::queue::Bucket;
use crate::strategy::{AgentView, FreeKey, FreeShape, QueueMemory};
use crate::util::Rng;

use super::apply::step_seed;
use super::Router;

impl Router {
    /// Whether agent `a` may serve bucket requirements of queue `q`:
    /// `Some((tier, proficiency))` if so.
    pub(crate) fn eligible(
        &self,
        a: u32,
        q: u32,
        require: &[(u16, u8)],
        max_penalty: Option<u32>,
    ) -> Option<(u32, u32)> {
        let ag = &self.agents[a as usize];
        if ag.removed {
            return None;
        }
        let tier = if ag.cfg.queues.is_empty() {
            0
        } else {
            *ag.cfg.queues.get(&self.queues[q as usize].name)?
        };
        if max_penalty.is_some_and(|m| tier > m) {
            return None;
        }
        let mut proficiency = 0u32;
        for &(s, l) in require {
            let have = ag.level(s);
            if have < l {
                return None;
            }
            proficiency += u32::from(have);
        }
        Some((tier, proficiency))
    }

    /// The bucket a caller belongs in now.
    pub(crate) fn call_bucket(&self, c: &Call) -> Option<u32> {
        let qu = &self.queues[c.queue as usize];
        if c.variant == 0 {
            qu.buckets.get(c.step).copied()
        } else {
            qu.variants
                .get(c.variant as usize - 1)
                .and_then(|(_, b)| b.get(c.step))
                .copied()
        }
    }

    /// Every bucket of a queue: its own and its variants'.
    pub(crate) fn queue_buckets(&self, q: u32) -> Vec<u32> {
        let qu = &self.queues[q as usize];
        qu.buckets
            .iter()
            .copied()
            .chain(qu.variants.iter().flat_map(|(_, b)| b.iter().copied()))
            .collect()
    }

    /// The variant of queue `q` for these extra skills (0: none), created
    /// if needed.
    pub(crate) fn variant_for(&mut self, q: u32, extra: &[(String, u8)]) -> u32 {
        if extra.is_empty() {
            return 0;
        }
        if let Some(i) = self.queues[q as usize]
            .variants
            .iter()
            .position(|(e, _)| e == extra)
        {
            return i as u32 + 1;
        }
        let now = self.now;
        let extra_ix: Vec<(u16, u8)> = extra.iter().map(|(s, l)| (self.intern(s), *l)).collect();
        type Step = (Vec<(u16, u8)>, Option<u32>);
        let steps: Vec<Step> = self.queues[q as usize]
            .buckets
            .iter()
            .map(|&b| {
                let base = &self.buckets[b as usize];
                let mut req = base.require.clone();
                for &(s, l) in &extra_ix {
                    match req.iter_mut().find(|(rs, _)| *rs == s) {
                        Some(e) => e.1 = e.1.max(l),
                        None => req.push((s, l)),
                    }
                }
                req.sort_unstable();
                (req, base.max_penalty)
            })
            .collect();
        let shape = self.queues[q as usize].cfg.strategy.selector().shape();
        let per_member = shape == FreeShape::PerMember;
        let mut ids = Vec::with_capacity(steps.len());
        let strategy = self.queues[q as usize].cfg.strategy;
        let selector = strategy.selector();
        let seed = format!("{extra:?}");
        for (step, (require, max_penalty)) in steps.into_iter().enumerate() {
            let b = self.buckets.len() as u32;
            let mut bucket = Bucket {
                pool: b,
                queue: q,
                require,
                max_penalty,
                waiting: Default::default(),
                free: FreeSet::new(shape),
                selector,
                rng: Rng::from_name(&step_seed(&self.queues[q as usize].name, &seed, step)),
                memory: QueueMemory::default(),
                ready: 0,
                members: 0,
            };
            for a in 0..self.agents.len() as u32 {
                let Some((tier, proficiency)) =
                    self.eligible(a, q, &bucket.require, bucket.max_penalty)
                else {
                    continue;
                };
                bucket.members += 1;
                let ag = &mut self.agents[a as usize];
                if ag.counted_ready {
                    bucket.ready += 1;
                }
                let mut m = Membership::new(b, b, q, tier, proficiency, strategy);
                if ag.listed && ag.is_free(now) {
                    let view = AgentView {
                        id: &ag.id,
                        order: ag.order,
                        weight: ag.cfg.weight.max(1),
                        idle_since: ag.idle_since,
                        last_call_end: ag.last_call_end,
                        calls_answered: ag.calls_answered,
                        talk_ns: ag.talk_ns,
                        proficiency,
                        tier,
                        last_offered_here: 0,
                        listed_at: now,
                    };
                    let (primary, secondary) = selector.key(&view, &bucket.memory, &mut bucket.rng);
                    let k = FreeKey {
                        tier,
                        primary,
                        secondary,
                        agent: a,
                        gen: if per_member { 0 } else { ag.free_gen },
                    };
                    bucket.free.push(k, &mut self.spares);
                    if per_member {
                        m.set_listed(Some(&k));
                    }
                }
                ag.join(m);
            }
            self.buckets.push(bucket);
            self.heads.push_empty();
            ids.push(b);
        }
        let qu = &mut self.queues[q as usize];
        qu.variants.push((extra.to_vec(), ids));
        qu.variants.len() as u32
    }
}
