//! The RTP port pool: even ports of the configured range, each leased with
//! its odd RTCP neighbour. A lease returns its ports when dropped, which the
//! relay does only after closing the sockets.
//!
//! A released leg's sockets can instead go back still bound
//! ([`PortPool::recycle`]): the next call reuses them without the
//! socket/ioctl/bind/getsockname/close syscalls (10 per leg), after its
//! stray datagrams are drained. At most [`MAX_IDLE_PAIRS`] pairs wait bound,
//! least recently released first, so a port still is not reused while its
//! last call's packets may arrive.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::MediaError;

/// Bound pairs kept for reuse, at most (2 fds each).
pub const MAX_IDLE_PAIRS: usize = 256;

#[derive(Debug)]
struct Idle {
    port: u16,
    ip: IpAddr,
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

#[derive(Debug)]
struct PoolInner {
    /// Free even ports, least recently released first (so a port is not
    /// reused while stray packets of its last call may still arrive).
    free: Mutex<VecDeque<u16>>,
    /// Released pairs still bound, least recently released first.
    idle: Mutex<VecDeque<Idle>>,
    capacity: usize,
}

/// Shared pool of even RTP ports.
#[derive(Debug, Clone)]
pub struct PortPool {
    inner: Arc<PoolInner>,
}

/// An RTP/RTCP port pair held by a leg. Dropping it returns the pair.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    /// `None` once the pair went to the idle list (nothing to return).
    pool: Option<Arc<PoolInner>>,
}

impl PortLease {
    /// The even (RTP) port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.free.lock().push_back(self.port);
        }
    }
}

/// Bound sockets of one leg plus the lease that owns their ports. Field order
/// matters: the sockets are dropped (closed) before the lease returns the
/// ports.
#[derive(Debug)]
pub struct LegSockets {
    /// RTP socket (even port).
    pub rtp: UdpSocket,
    /// RTCP socket (odd port).
    pub rtcp: UdpSocket,
    /// The ports' lease.
    pub lease: PortLease,
}

impl PortPool {
    /// A pool of the even ports `p` with `port_min <= p` and `p + 1 <=
    /// port_max`.
    pub fn new(port_min: u16, port_max: u16) -> Result<PortPool, MediaError> {
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
                idle: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// Number of port pairs in the range.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Number of port pairs leased (bound pairs waiting for reuse are not
    /// in use).
    pub fn pairs_in_use(&self) -> usize {
        self.inner.capacity - self.inner.free.lock().len() - self.inner.idle.lock().len()
    }

    /// Pairs waiting bound for reuse.
    pub fn idle_pairs(&self) -> usize {
        self.inner.idle.lock().len()
    }

    fn lease(&self, port: u16) -> PortLease {
        PortLease {
            port,
            pool: Some(self.inner.clone()),
        }
    }

    fn take(&self) -> Option<PortLease> {
        let port = self.inner.free.lock().pop_front()?;
        Some(self.lease(port))
    }

    /// Takes back a released leg's sockets, still bound (non-blocking) on
    /// `ip`, for the next [`PortPool::bind_pair`] there. Beyond
    /// [`MAX_IDLE_PAIRS`] the sockets are closed and the ports freed.
    pub fn recycle(&self, ls: LegSockets, ip: IpAddr) {
        let mut idle = self.inner.idle.lock();
        if idle.len() >= MAX_IDLE_PAIRS {
            return;
        }
        let LegSockets {
            rtp,
            rtcp,
            mut lease,
        } = ls;
        lease.pool = None; // the port now lives in the idle list
        idle.push_back(Idle {
            port: lease.port,
            ip,
            rtp,
            rtcp,
        });
    }

    /// A recycled pair on `ip`, with whatever its last call left in the
    /// receive queues read and thrown away (a stray packet must not latch
    /// the new call to the old peer).
    fn reuse(&self, ip: IpAddr) -> Option<LegSockets> {
        let found = {
            let mut idle = self.inner.idle.lock();
            let at = idle.iter().position(|i| i.ip == ip)?;
            idle.remove(at)?
        };
        let mut buf = [0u8; 2048];
        for s in [&found.rtp, &found.rtcp] {
            for _ in 0..1024 {
                if s.recv_from(&mut buf).is_err() {
                    break;
                }
            }
        }
        Some(LegSockets {
            rtp: found.rtp,
            rtcp: found.rtcp,
            lease: self.lease(found.port),
        })
    }

    /// Leases a pair and binds non-blocking RTP and RTCP sockets on `ip`
    /// (or reuses a recycled pair bound there). Ports another process holds
    /// are skipped (and go back to the end of the free list).
    pub fn bind_pair(&self, ip: IpAddr) -> Result<LegSockets, MediaError> {
        if let Some(ls) = self.reuse(ip) {
            return Ok(ls);
        }
        let attempts = self.inner.capacity;
        for _ in 0..attempts {
            let Some(lease) = self.take() else {
                return Err(MediaError::PortsExhausted);
            };
            let rtp = UdpSocket::bind(SocketAddr::new(ip, lease.port));
            let rtcp = UdpSocket::bind(SocketAddr::new(ip, lease.port + 1));
            match (rtp, rtcp) {
                (Ok(rtp), Ok(rtcp)) => {
                    rtp.set_nonblocking(true)?;
                    rtcp.set_nonblocking(true)?;
                    return Ok(LegSockets { rtp, rtcp, lease });
                }
                (Err(e), _) | (_, Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    tracing::debug!(port = lease.port, "RTP port busy, skipping");
                    continue; // lease dropped: port goes to the back of the list
                }
                (Err(e), _) | (_, Err(e)) => return Err(e.into()),
            }
        }
        Err(MediaError::PortsExhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn range_and_exhaustion() {
        assert!(PortPool::new(31901, 31901).is_err());
        let p = PortPool::new(31901, 31906).unwrap(); // pairs 31902/3, 31904/5
        assert_eq!(p.capacity(), 2);
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let a = p.bind_pair(ip).unwrap();
        let b = p.bind_pair(ip).unwrap();
        assert_eq!(a.lease.port() % 2, 0);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), a.lease.port() + 1);
        assert!(matches!(p.bind_pair(ip), Err(MediaError::PortsExhausted)));
        assert_eq!(p.pairs_in_use(), 2);
        drop(a);
        assert_eq!(p.pairs_in_use(), 1);
        let c = p.bind_pair(ip).unwrap();
        drop((b, c));
        assert_eq!(p.pairs_in_use(), 0);
    }

    #[test]
    fn recycled_pairs_are_reused_drained_and_capped() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let p = PortPool::new(31920, 31929).unwrap();
        let a = p.bind_pair(ip).unwrap();
        let port = a.lease.port();
        // A stray packet of the old call waits in the queue...
        let peer = UdpSocket::bind((ip, 0)).unwrap();
        peer.send_to(b"stray", (ip, port)).unwrap();
        p.recycle(a, ip);
        assert_eq!((p.pairs_in_use(), p.idle_pairs()), (0, 1));
        // ...the next lease gets the same bound pair, with the queue emptied.
        let b = p.bind_pair(ip).unwrap();
        assert_eq!(b.lease.port(), port, "reused, not rebound");
        assert_eq!((p.pairs_in_use(), p.idle_pairs()), (1, 0));
        let mut buf = [0u8; 16];
        assert!(b.rtp.recv_from(&mut buf).is_err(), "stray datagram drained");
        drop(b);
        assert_eq!(p.pairs_in_use(), 0, "dropping still frees the ports");
        // Another address never gets a pair bound elsewhere.
        let c = p.bind_pair(ip).unwrap();
        p.recycle(c, ip);
        let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
        if let Ok(d) = p.bind_pair(v6) {
            assert_eq!(d.rtp.local_addr().unwrap().ip(), v6);
            assert_eq!(p.idle_pairs(), 1);
        }
    }

    #[test]
    fn skips_ports_held_elsewhere() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let squatter = UdpSocket::bind((ip, 31912)).unwrap();
        let p = PortPool::new(31912, 31915).unwrap();
        let a = p.bind_pair(ip).unwrap();
        assert_eq!(a.lease.port(), 31914);
        assert!(matches!(p.bind_pair(ip), Err(MediaError::PortsExhausted)));
        drop(squatter);
        drop(a);
        assert_eq!(p.pairs_in_use(), 0);
    }
}
