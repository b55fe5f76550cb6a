//! The RTP port pool: even ports of the configured range, each leased with
//! its odd RTCP neighbour. This is plain port *numbers*: the sockets live in
//! the relay workers (see `relay::stock`), and only there.
//!
//! A port is in one of three places:
//!
//! - the **free** list (nothing bound), least recently released first;
//! - a worker's **ready** queue: the worker holds the pair bound (and
//!   registered with its reactor) in its stock, idle, for the engine to
//!   claim; least recently released first, so a port is not reused while
//!   its last call's stray packets may still arrive;
//! - **in use**: claimed by the engine for a session (or leg C), until the
//!   session ends and the worker puts the pair back in its stock (ready
//!   again) or closes it (free again).
//!
//! The engine claims ports from ready queues without a syscall
//! ([`PortPool::claim`]); the worker binds new pairs from the free list
//! ([`PortPool::lease`]) when its stock runs low.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::MediaError;

#[derive(Debug)]
struct PoolInner {
    /// Free even ports, least recently released first (so a port is not
    /// reused while stray packets of its last call may still arrive).
    free: Mutex<VecDeque<u16>>,
    /// Per worker: ports whose pair it holds bound and idle, least recently
    /// released first.
    ready: Vec<Mutex<VecDeque<u16>>>,
    capacity: usize,
}

/// Shared pool of even RTP ports.
#[derive(Debug, Clone)]
pub struct PortPool {
    inner: Arc<PoolInner>,
}

/// An RTP/RTCP port pair taken from the free list by a worker, which binds
/// it. Dropping the lease returns the port to the free list: drop it only
/// after the sockets are closed.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    pool: Arc<PoolInner>,
}

impl PortLease {
    /// The even (RTP) port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.free.lock().push_back(self.port);
    }
}

impl PortPool {
    /// A pool of the even ports `p` with `port_min <= p` and `p + 1 <=
    /// port_max`, with one ready queue.
    pub fn new(port_min: u16, port_max: u16) -> Result<PortPool, MediaError> {
        PortPool::with_workers(port_min, port_max, 1)
    }

    /// As [`PortPool::new`], with a ready queue for each of `workers`.
    pub fn with_workers(
        port_min: u16,
        port_max: u16,
        workers: usize,
    ) -> Result<PortPool, MediaError> {
        let first = port_min.saturating_add(port_min & 1);
        let free: VecDeque<u16> = (first as u32..port_max as u32)
            .step_by(2)
            .map(|p| p as u16)
            .filter(|&p| p != 0)
            .collect();
        if free.is_empty() {
            return Err(MediaError::Config(format!(
                "RTP port range {port_min}-{port_max} holds no even/odd port pair"
            )));
        }
        Ok(PortPool {
            inner: Arc::new(PoolInner {
                capacity: free.len(),
                free: Mutex::new(free),
                ready: (0..workers.max(1))
                    .map(|_| Mutex::new(VecDeque::new()))
                    .collect(),
            }),
        })
    }

    /// Number of port pairs in the range.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Number of ready queues (workers).
    pub fn workers(&self) -> usize {
        self.inner.ready.len()
    }

    /// Port pairs a worker's stock holds bound and idle, over all workers.
    pub fn idle_pairs(&self) -> usize {
        self.inner.ready.iter().map(|q| q.lock().len()).sum()
    }

    /// Pairs ready in worker `w`'s queue.
    pub fn ready(&self, w: usize) -> usize {
        self.inner.ready[w].lock().len()
    }

    /// Port pairs on the free list (nothing bound).
    pub fn free_pairs(&self) -> usize {
        self.inner.free.lock().len()
    }

    /// Number of port pairs in use: claimed for a session (bound pairs
    /// waiting idle in a worker's stock, and free ports, are not).
    pub fn pairs_in_use(&self) -> usize {
        // Not one snapshot: a pair a worker is binding (free → ready) or
        // closing (ready → free) at this moment can be counted twice or
        // not at all; the figure is exact whenever the workers are idle.
        let free = self.inner.free.lock().len();
        self.inner.capacity.saturating_sub(free + self.idle_pairs())
    }

    /// Takes `N` ready ports of worker `w` (least recently released first),
    /// or none if it has fewer.
    pub fn claim<const N: usize>(&self, w: usize) -> Option<[u16; N]> {
        let mut q = self.inner.ready[w].lock();
        if q.len() < N {
            return None;
        }
        Some(std::array::from_fn(|_| q.pop_front().unwrap_or_default()))
    }

    /// Puts a claimed port back at the front of worker `w`'s queue (its
    /// pair is still in the worker's stock; the claim was not used).
    pub fn unclaim(&self, w: usize, port: u16) {
        self.inner.ready[w].lock().push_front(port);
    }

    /// Worker side: `port`'s pair is bound and idle in worker `w`'s stock.
    pub fn publish(&self, w: usize, port: u16) {
        self.inner.ready[w].lock().push_back(port);
    }

    /// Worker side: takes `port` out of worker `w`'s ready queue, if it is
    /// still there (not claimed), so its pair can be closed.
    pub fn withdraw(&self, w: usize, port: u16) -> bool {
        let mut q = self.inner.ready[w].lock();
        match q.iter().position(|&p| p == port) {
            Some(at) => {
                q.remove(at);
                true
            }
            None => false,
        }
    }

    /// Worker side: leases a port from the free list, to bind its pair.
    pub fn lease(&self) -> Option<PortLease> {
        let port = self.inner.free.lock().pop_front()?;
        Some(self.lease_of(port))
    }

    /// A lease for a port already taken out of the free list (claimed or
    /// withdrawn): dropping it frees the port.
    fn lease_of(&self, port: u16) -> PortLease {
        PortLease {
            port,
            pool: self.inner.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_accounting() {
        assert!(PortPool::new(31901, 31901).is_err());
        let p = PortPool::with_workers(31901, 31910, 2).unwrap(); // 31902..=31908
        assert_eq!(p.capacity(), 4);
        assert_eq!(p.pairs_in_use(), 0);
        // A worker leases and binds two pairs, publishing them: idle, not in use.
        let a = p.lease().unwrap();
        let b = p.lease().unwrap();
        assert_eq!(a.port() % 2, 0);
        let (pa, pb) = (a.port(), b.port());
        p.publish(0, pa);
        p.publish(0, pb);
        std::mem::forget((a, b)); // the stock owns them now
        assert_eq!((p.ready(0), p.ready(1), p.idle_pairs()), (2, 0, 2));
        assert_eq!(p.pairs_in_use(), 0);
        // The engine claims both, oldest first; worker 1 has none.
        assert_eq!(p.claim::<2>(1), None);
        assert_eq!(p.claim::<3>(0), None, "all or nothing");
        assert_eq!(p.claim::<2>(0), Some([pa, pb]));
        assert_eq!(p.pairs_in_use(), 2);
        // An unused claim goes back first in line.
        p.unclaim(0, pb);
        assert_eq!(p.pairs_in_use(), 1);
        assert_eq!(p.claim::<1>(0), Some([pb]));
        // Released: back in the stock (ready again), LRU order.
        p.publish(0, pa);
        p.publish(0, pb);
        assert_eq!(p.pairs_in_use(), 0);
        // Closing an idle pair frees its port.
        assert!(p.withdraw(0, pb));
        drop(p.lease_of(pb));
        assert!(p.withdraw(0, pa));
        assert!(!p.withdraw(0, pa), "already out");
        drop(p.lease_of(pa));
        assert_eq!(
            (p.free_pairs(), p.idle_pairs(), p.pairs_in_use()),
            (4, 0, 0)
        );
        // Free list order: a released port goes to the back.
        let first = p.lease().unwrap();
        assert_ne!(first.port(), pb);
    }
}
