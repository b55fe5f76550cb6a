//! A worker's stock of bound, idle RTP/RTCP socket pairs.
//!
//! Every socket of the relay is created, bound, registered with the
//! worker's reactor, reused and closed by its worker thread, here. Idle
//! pairs wait in the stock, still registered, keyed by their even port; the
//! port numbers are published to the worker's ready queue in the shared
//! [`PortPool`], from which the engine claims them (no syscall, no fd in the
//! engine thread) and names them in the session's start message. A session
//! takes its pairs out of the stock and puts them back when it ends.
//!
//! The stock is kept between a low and a high watermark ([`LOW`], [`HIGH`],
//! bounded by the worker's share of the port range): below the low one the
//! worker binds new pairs from the free list (after every message batch,
//! and on a tick while short); a released pair beyond the high one is
//! closed and its port returns to the free list.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

use super::sys::{RecvBatch, BATCH};
use crate::pool::{PortLease, PortPool};

/// Idle pairs a worker binds ahead (at most its share of the range).
pub(crate) const LOW: usize = 128;
/// Idle pairs a worker keeps at most; released pairs beyond are closed.
pub(crate) const HIGH: usize = 512;

/// A leg's RTP and RTCP sockets (registered with the worker's reactor) and
/// the lease of their ports. Field order matters: the sockets are dropped
/// (closed) before the lease returns the port to the free list.
pub(super) struct Sockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub lease: PortLease,
}

impl Sockets {
    /// The even (RTP) port.
    pub fn port(&self) -> u16 {
        self.lease.port()
    }

    /// Waits until tokio knows both sockets are writable (it learns it from
    /// the first epoll event after registration; until then `try_send_to`
    /// reports WouldBlock). Immediate for a pair that waited in the stock.
    pub async fn writable(&self) {
        let _ = self.rtp.writable().await;
        let _ = self.rtcp.writable().await;
    }
}

/// One worker's idle pairs. Used from the worker thread only (behind an
/// uncontended lock, shared by its session tasks).
pub(super) struct Stock {
    w: usize,
    ip: IpAddr,
    pool: PortPool,
    low: usize,
    high: usize,
    /// Idle pairs, and pairs the engine claimed whose session has not
    /// taken them yet.
    pairs: HashMap<u16, Sockets>,
}

impl Stock {
    /// The stock of worker `w`, binding on `ip`. Empty until
    /// [`Stock::refill`].
    pub fn new(w: usize, ip: IpAddr, pool: PortPool) -> Stock {
        let share = (pool.capacity() / pool.workers()).max(2);
        let low = LOW.min(share);
        Stock {
            w,
            ip,
            low,
            high: HIGH.min(share).max(low),
            pool,
            pairs: HashMap::new(),
        }
    }

    /// Whether fewer than the low watermark are ready.
    pub fn short(&self) -> bool {
        self.pool.ready(self.w) < self.low
    }

    /// Binds pairs from the free list until the low watermark is ready (or
    /// the free list is empty). Ports another process holds are skipped
    /// (they go to the back of the free list). Returns how many were bound;
    /// errors other than "address in use" stop the refill.
    pub fn refill(&mut self) -> io::Result<usize> {
        let mut bound = 0;
        let mut tries = 2 * self.low;
        while tries > 0 && self.short() {
            tries -= 1;
            let Some(lease) = self.pool.lease() else {
                break;
            };
            let port = lease.port();
            match bind(self.ip, port) {
                Ok((rtp, rtcp)) => {
                    self.pairs.insert(port, Sockets { rtp, rtcp, lease });
                    self.pool.publish(self.w, port);
                    bound += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    tracing::debug!(port, "RTP port busy, skipping");
                    // The lease drops: the port goes to the back of the list.
                }
                Err(e) => return Err(e),
            }
        }
        Ok(bound)
    }

    /// Takes the pair of a claimed `port` out of the stock, with whatever
    /// its last call left in the receive queues read and thrown away (a
    /// stray packet must not latch the new call to the old peer).
    pub fn take(&mut self, port: u16) -> Option<Sockets> {
        let s = self.pairs.remove(&port)?;
        for sock in [&s.rtp, &s.rtcp] {
            // A real receive, not tokio's readiness (which may not have
            // seen a datagram that just arrived): one recvmmsg when empty.
            RecvBatch::with(|rb| {
                for _ in 0..1024 / BATCH {
                    match rb.recv(sock) {
                        Ok(n) if n == BATCH => continue,
                        _ => break,
                    }
                }
            });
        }
        Some(s)
    }

    /// A released pair: back in the stock, ready (last in line), or closed
    /// with its port freed if the stock is at its high watermark.
    pub fn put(&mut self, s: Sockets) {
        if self.pool.ready(self.w) >= self.high {
            return; // `s` drops: sockets closed, then the port freed
        }
        let port = s.port();
        self.pairs.insert(port, s);
        self.pool.publish(self.w, port);
    }

    /// A claimed port whose start or attach never reached a session: ready
    /// again, first in line.
    pub fn unclaim(&mut self, port: u16) {
        if self.pairs.contains_key(&port) {
            self.pool.unclaim(self.w, port);
        }
    }

    /// Closes every pair of the stock (idle or claimed) and frees the
    /// ports: the worker is stopping.
    pub fn close_all(&mut self) {
        for (port, s) in self.pairs.drain() {
            self.pool.withdraw(self.w, port);
            drop(s);
        }
    }
}

/// Binds a non-blocking RTP/RTCP pair on `ip`, registered with the current
/// runtime's reactor.
fn bind(ip: IpAddr, port: u16) -> io::Result<(UdpSocket, UdpSocket)> {
    let rtp = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
    let rtcp = std::net::UdpSocket::bind(SocketAddr::new(ip, port + 1))?;
    rtp.set_nonblocking(true)?;
    rtcp.set_nonblocking(true)?;
    Ok((UdpSocket::from_std(rtp)?, UdpSocket::from_std(rtcp)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap()
    }

    #[test]
    fn refills_to_the_low_watermark_within_its_share() {
        let rt = rt();
        let _g = rt.enter();
        // 8 pairs, 2 workers: each stocks its share, 4.
        let pool = PortPool::with_workers(31940, 31955, 2).unwrap();
        let mut s0 = Stock::new(0, IP, pool.clone());
        let mut s1 = Stock::new(1, IP, pool.clone());
        assert_eq!(s0.refill().unwrap(), 4);
        assert_eq!(s1.refill().unwrap(), 4);
        assert_eq!((pool.ready(0), pool.ready(1), pool.free_pairs()), (4, 4, 0));
        assert_eq!(pool.pairs_in_use(), 0, "idle stock is not in use");
        // The engine claims two; the stock hands them over, drained.
        let [a, b] = pool.claim::<2>(0).unwrap();
        assert_eq!(pool.pairs_in_use(), 2);
        let peer = std::net::UdpSocket::bind((IP, 0)).unwrap();
        peer.send_to(b"stray", (IP, a)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let sa = s0.take(a).unwrap();
        let sb = s0.take(b).unwrap();
        assert!(s0.take(a).is_none(), "taken once");
        let mut buf = [0u8; 16];
        assert!(
            sa.rtp.try_recv_from(&mut buf).is_err(),
            "stray datagram drained"
        );
        assert_eq!(sa.rtcp.local_addr().unwrap().port(), a + 1);
        // Nothing free: the refill binds nothing and reports no error.
        assert!(s0.short());
        assert_eq!(s0.refill().unwrap(), 0);
        // Released: back in the stock, ready last in line.
        s0.put(sa);
        s0.put(sb);
        assert_eq!(pool.ready(0), 4);
        assert_eq!(pool.pairs_in_use(), 0);
        let order = pool.claim::<4>(0).unwrap();
        assert_eq!(&order[2..], &[a, b], "least recently released first");
        for p in order {
            s0.unclaim(p);
        }
        // Shutdown closes everything and frees every port.
        s0.close_all();
        s1.close_all();
        assert_eq!((pool.free_pairs(), pool.idle_pairs()), (8, 0));
        std::net::UdpSocket::bind((IP, a)).expect("port closed");
    }

    #[test]
    fn beyond_the_high_watermark_pairs_close() {
        let rt = rt();
        let _g = rt.enter();
        // 4 pairs, 2 workers: share 2, so both watermarks are 2.
        let pool = PortPool::with_workers(31960, 31967, 2).unwrap();
        let mut s0 = Stock::new(0, IP, pool.clone());
        let mut s1 = Stock::new(1, IP, pool.clone());
        assert_eq!((s0.refill().unwrap(), s1.refill().unwrap()), (2, 2));
        let [p] = pool.claim::<1>(1).unwrap();
        let sp = s1.take(p).unwrap();
        // Stock 0 is full: a pair released there is closed, its port freed.
        s0.put(sp);
        assert_eq!((pool.ready(0), pool.free_pairs()), (2, 1));
        std::net::UdpSocket::bind((IP, p)).expect("closed");
        // Stock 1, one short, binds it again.
        assert!(s1.short());
        assert_eq!(s1.refill().unwrap(), 1);
        assert_eq!((pool.ready(1), pool.free_pairs()), (2, 0));
        s0.close_all();
        s1.close_all();
        assert_eq!(pool.free_pairs(), 4);
    }

    #[test]
    fn skips_ports_held_elsewhere() {
        let rt = rt();
        let _g = rt.enter();
        let squatter = std::net::UdpSocket::bind((IP, 31971)).unwrap(); // RTCP of 31970
        let pool = PortPool::with_workers(31970, 31973, 1).unwrap(); // 31970, 31972
        let mut s = Stock::new(0, IP, pool.clone());
        assert_eq!(s.refill().unwrap(), 1);
        assert_eq!(pool.claim::<1>(0), Some([31972]));
        assert_eq!(pool.free_pairs(), 1, "the busy port stays free");
        drop(squatter);
        s.unclaim(31972);
        s.close_all();
        assert_eq!(pool.free_pairs(), 2);
    }
}
