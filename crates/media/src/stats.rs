//! Per-session counters: written only by the owning worker (relaxed atomics,
//! no read-modify-write on the packet path), read by anyone via
//! [`SessionStats::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::relay::kfwd;
use crate::Leg;

/// Counters of one leg.
#[derive(Debug, Default)]
pub struct LegStats {
    pub(crate) rx_packets: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) rx_rtcp: AtomicU64,
    pub(crate) tx_packets: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    pub(crate) played: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) out_of_order: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) jitter_us: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) send_errors: AtomicU64,
}

/// Counters of one session, shared between its worker and call control.
#[derive(Debug, Default)]
pub struct SessionStats {
    pub(crate) a: LegStats,
    pub(crate) b: LegStats,
    pub(crate) c: LegStats,
    pub(crate) relayed_a_to_b: AtomicU64,
    pub(crate) relayed_b_to_a: AtomicU64,
    pub(crate) kernel_relayed: AtomicU64,
    /// Streams handed over to in-kernel forwarding and what of their
    /// counters is already folded in above. The worker folds under this
    /// lock and a snapshot adds the rest under it: each packet counts once.
    pub(crate) kernel: parking_lot::Mutex<kfwd::Shared>,
}

/// Adds to a counter that only one thread writes (a plain load + store:
/// no locked instruction on the packet path).
#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

#[inline]
pub(crate) fn set(c: &AtomicU64, v: u64) {
    c.store(v, Relaxed);
}

/// Plain copy of one leg's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LegSnapshot {
    /// RTP packets received from the leg's remote.
    pub rx_packets: u64,
    /// RTP bytes received (whole datagrams).
    pub rx_bytes: u64,
    /// RTCP packets received.
    pub rx_rtcp: u64,
    /// RTP packets sent to the leg (relayed or played).
    pub tx_packets: u64,
    /// RTP bytes sent to the leg.
    pub tx_bytes: u64,
    /// Packets sent by a player to the leg.
    pub played: u64,
    /// Packets lost on the way in (RFC 3550 A.3).
    pub lost: u64,
    /// Packets received out of order.
    pub out_of_order: u64,
    /// Duplicate packets received.
    pub duplicates: u64,
    /// Interarrival jitter in microseconds.
    pub jitter_us: u64,
    /// Datagrams that were neither valid RTP nor valid RTCP.
    pub malformed: u64,
    /// Datagrams the kernel refused to send.
    pub send_errors: u64,
}

/// Plain copy of a session's counters, serialisable into a CDR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Caller leg.
    pub a: LegSnapshot,
    /// Agent leg.
    pub b: LegSnapshot,
    /// Supervisor leg (zero unless the call was monitored).
    pub c: LegSnapshot,
    /// Packets relayed from A to B.
    pub relayed_a_to_b: u64,
    /// Packets relayed from B to A.
    pub relayed_b_to_a: u64,
    /// Of the packets relayed (both ways), those forwarded in the kernel
    /// (`[media] kernel_forwarding`).
    pub kernel_relayed: u64,
}

impl LegStats {
    fn snapshot(&self) -> LegSnapshot {
        LegSnapshot {
            rx_packets: self.rx_packets.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            rx_rtcp: self.rx_rtcp.load(Relaxed),
            tx_packets: self.tx_packets.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
            played: self.played.load(Relaxed),
            lost: self.lost.load(Relaxed),
            out_of_order: self.out_of_order.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            jitter_us: self.jitter_us.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
        }
    }
}

impl SessionStats {
    /// Copies every counter.
    /// Exact: streams forwarded in the kernel are read from the kernel
    /// (one `bpf` system call per such stream).
    pub fn snapshot(&self) -> StatsSnapshot {
        let k = self.kernel.lock();
        let mut s = self.folded();
        for i in 0..2 {
            if let Some((_, p, b)) = k.unfolded(i) {
                let (from, to, relayed) = match i {
                    0 => (&mut s.a, &mut s.b, &mut s.relayed_a_to_b),
                    _ => (&mut s.b, &mut s.a, &mut s.relayed_b_to_a),
                };
                from.rx_packets += p;
                from.rx_bytes += b;
                to.tx_packets += p;
                to.tx_bytes += b;
                *relayed += p;
                s.kernel_relayed += p;
            }
        }
        s
    }

    /// Without system calls: what the worker has folded in so far, at most
    /// a second behind for streams forwarded in the kernel. For live views
    /// over many calls (metrics scrapes, call listings).
    pub fn snapshot_folded(&self) -> StatsSnapshot {
        let _k = self.kernel.lock();
        self.folded()
    }

    fn folded(&self) -> StatsSnapshot {
        StatsSnapshot {
            a: self.a.snapshot(),
            b: self.b.snapshot(),
            c: self.c.snapshot(),
            relayed_a_to_b: self.relayed_a_to_b.load(Relaxed),
            relayed_b_to_a: self.relayed_b_to_a.load(Relaxed),
            kernel_relayed: self.kernel_relayed.load(Relaxed),
        }
    }

    /// Folds into the counters what the kernel forwarded of leg `i`'s (A
    /// 0, B 1) handed-over stream since the last fold; with `take_back`,
    /// also ends the hand-over (the entry is read and deleted in one
    /// step). Returns the kernel's entry and the packets and bytes folded
    /// now.
    pub(crate) fn fold_kernel(&self, i: usize, take_back: bool) -> Option<(kfwd::Entry, u64, u64)> {
        let mut k = self.kernel.lock();
        let got = k.fold(i, take_back);
        if let Some((_, p, b)) = got {
            let (from, to) = match i {
                0 => (&self.a, &self.b),
                _ => (&self.b, &self.a),
            };
            bump(&from.rx_packets, p);
            bump(&from.rx_bytes, b);
            bump(&to.tx_packets, p);
            bump(&to.tx_bytes, b);
            bump(self.relayed_from(if i == 0 { Leg::A } else { Leg::B }), p);
            bump(&self.kernel_relayed, p);
        }
        got
    }

    pub(crate) fn leg(&self, leg: Leg) -> &LegStats {
        match leg {
            Leg::A => &self.a,
            Leg::B => &self.b,
            Leg::C => &self.c,
        }
    }

    /// Packets relayed from `from` (A or B; C is never relayed).
    pub(crate) fn relayed_from(&self, from: Leg) -> &AtomicU64 {
        match from {
            Leg::A | Leg::C => &self.relayed_a_to_b,
            Leg::B => &self.relayed_b_to_a,
        }
    }
}
