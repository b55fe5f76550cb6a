//! The RTP port pool: even ports of the configured range, each leased with
//! its odd RTCP neighbour. A lease returns its ports when dropped, which the
//! relay does only after closing the sockets.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::MediaError;

#[derive(Debug)]
struct PoolInner {
    /// Free even ports, least recently released first (so a port is not
    /// reused while stray packets of its last call may still arrive).
    free: Mutex<VecDeque<u16>>,
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
            }),
        })
    }

    /// Number of port pairs in the range.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Number of port pairs leased.
    pub fn pairs_in_use(&self) -> usize {
        self.inner.capacity - self.inner.free.lock().len()
    }

    fn take(&self) -> Option<PortLease> {
        let port = self.inner.free.lock().pop_front()?;
        Some(PortLease {
            port,
            pool: self.inner.clone(),
        })
    }

    /// Leases a pair and binds non-blocking RTP and RTCP sockets on `ip`.
    /// Ports another process holds are skipped (and go back to the end of
    /// the free list).
    pub fn bind_pair(&self, ip: IpAddr) -> Result<LegSockets, MediaError> {
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
