//! Deadlines: what each timer does when it fires, and whether it still matters.

use crate::call::CallState;
use crate::event::{ExitReason, RingFailure, RouterEvent};
use crate::timers::Timer;
use crate::util::dur_ns;

use super::Router;

impl Router {
    pub(crate) fn timer_live(&self, t: &Timer) -> bool {
        match *t {
            Timer::Ring { call, offer } => self.calls.get(&call).is_some_and(
                |c| matches!(&c.state, CallState::Ringing { legs, .. } if legs.iter().any(|l| l.offer == offer)),
            ),
            Timer::Relax { call, gen }
            | Timer::MaxWait { call, gen }
            | Timer::Announce { call, gen }
            | Timer::Age { call, gen } => {
                self.calls.get(&call).is_some_and(|c| c.gen == gen && c.in_queue())
            }
            Timer::Park { call, gen } => {
                self.calls.get(&call).is_some_and(|c| c.gen == gen && matches!(c.state, CallState::Parked { .. }))
            }
            Timer::Wrap { agent, gen, .. } => {
                let ag = &self.agents[agent as usize];
                ag.gen == gen && ag.wrapping > 0
            }
            Timer::Ready { agent, gen } => self.agents[agent as usize].gen == gen,
        }
    }

    pub(crate) fn fire(&mut self, t: Timer) {
        if !self.timer_live(&t) {
            return;
        }
        let now = self.now;
        match t {
            Timer::Ring { call, offer } => {
                let agent = match &self.calls[&call].state {
                    CallState::Ringing { legs, .. } => {
                        legs.iter().find(|l| l.offer == offer).map(|l| l.agent)
                    }
                    _ => None,
                };
                if let Some(a) = agent {
                    self.events.push_back(RouterEvent::RingTimeout {
                        call,
                        agent: self.agents[a as usize].id.clone(),
                    });
                    self.fail_leg(call, a, RingFailure::NoAnswer);
                }
            }
            Timer::Age { call, gen } => {
                let c = &self.calls[&call];
                let (q, old) = (c.queue, c.ord);
                if old.prio > 0 {
                    let state = c.state.clone();
                    let waiting = matches!(state, CallState::Waiting { .. });
                    if waiting {
                        self.detach(call, false);
                    }
                    if let CallState::Parked { agent } = state {
                        self.agents[agent as usize].parked.remove(&old);
                    }
                    let c = self.calls.get_mut(&call).expect("live");
                    c.ord.prio -= 1;
                    c.priority = c.priority.saturating_add(1);
                    let new = c.ord;
                    let qu = &mut self.queues[q as usize];
                    qu.remove_prio(old.prio);
                    qu.add_prio(new.prio);
                    if let CallState::Parked { agent } = state {
                        self.agents[agent as usize].parked.insert(new);
                    }
                    if waiting {
                        self.route_call(call);
                    }
                    if let Some(aging) = self.queues[q as usize].cfg.priority_aging {
                        self.timers
                            .push(now.saturating_add(dur_ns(aging)), Timer::Age { call, gen });
                    }
                }
            }
            Timer::Relax { call, gen } => {
                let c = self.calls.get_mut(&call).expect("live");
                let qu = &self.queues[c.queue as usize];
                let last = qu.step_after.len().saturating_sub(1);
                c.step = (c.step + 1).min(last);
                let next = qu
                    .step_after
                    .get(c.step + 1)
                    .map(|&a| c.queue_enter.saturating_add(a));
                if let Some(at) = next {
                    self.timers.push(at, Timer::Relax { call, gen });
                }
                if matches!(c.state, CallState::Waiting { .. }) {
                    self.detach(call, false);
                    self.route_call(call);
                }
            }
            Timer::MaxWait { call, .. } => {
                let c = self.calls.get_mut(&call).expect("live");
                if matches!(c.state, CallState::Ringing { .. }) {
                    c.expired = true;
                } else {
                    self.exit_call(call, ExitReason::Timeout);
                }
            }
            Timer::Announce { call, gen } => {
                let c = &self.calls[&call];
                let q = c.queue;
                let bucket = match c.state {
                    CallState::Waiting { bucket } => Some(Some(bucket)),
                    CallState::Parked { .. } => Some(None),
                    _ => None,
                };
                if let Some(bucket) = bucket {
                    let position = self.position(call);
                    let ewt = self.ewt(
                        q,
                        bucket.or(self.queues[q as usize].buckets.first().copied()),
                        position,
                        now,
                    );
                    self.events.push_back(RouterEvent::Announce {
                        call,
                        position,
                        ewt,
                    });
                }
                if let Some(every) = self.queues[q as usize]
                    .cfg
                    .announce_every
                    .filter(|d| !d.is_zero())
                {
                    self.timers.push(
                        now.saturating_add(dur_ns(every)),
                        Timer::Announce { call, gen },
                    );
                }
            }
            Timer::Park { call, .. } => {
                let c = self.calls.get_mut(&call).expect("live");
                c.park_until = 0;
                c.preferred = None;
                self.detach(call, false);
                self.route_call(call);
            }
            Timer::Wrap {
                agent,
                queue,
                started,
                ..
            } => {
                let ag = &mut self.agents[agent as usize];
                ag.wrapping -= 1;
                self.queues[queue as usize].stats.at(now).wrap_ns += now.saturating_sub(started);
                self.route_agent(agent);
            }
            Timer::Ready { agent, .. } => {
                self.route_agent(agent);
            }
        }
    }
}
