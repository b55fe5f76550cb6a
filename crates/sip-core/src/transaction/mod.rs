//! The RFC 3261 §17 transaction layer (as amended by RFC 6026), sans-IO.
//!
//! One [`TransactionLayer`] holds every client and server transaction of a
//! node. It never reads the clock or touches a socket: the caller passes
//! `now` in, sends what [`TransactionLayer::poll_transmit`] returns, wakes
//! up at [`TransactionLayer::poll_timeout`] and calls
//! [`TransactionLayer::handle_timeout`], the way quinn-proto is driven.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use sip_core::transaction::{ServerAction, Timers, TransactionLayer};
//! use sip_core::{Message, ResponseBuilder};
//!
//! let mut layer = TransactionLayer::new(Timers::default());
//! let now = Instant::now(); // in the I/O shell; the layer never reads it
//! let raw = "OPTIONS sip:engine@127.0.0.1 SIP/2.0\r\n\
//!            Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\n\
//!            From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:engine@127.0.0.1>\r\n\
//!            Call-ID: abc\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
//! let msg = Message::parse(Bytes::from(raw)).unwrap();
//! let source = "127.0.0.1:5070".parse().unwrap();
//! let ServerAction::New(key) = layer.on_request(&msg, source, false, now) else { panic!() };
//! layer.respond(&key, ResponseBuilder::new(&msg, 200).to_tag("x").build().into(), now);
//! let out = layer.poll_transmit().unwrap();
//! assert_eq!(out.dest, source);
//! // A retransmitted OPTIONS is answered from the transaction, not the TU.
//! assert!(matches!(layer.on_request(&msg, source, false, now), ServerAction::Retransmit));
//! // Timer J (64*T1 over UDP) ends the transaction.
//! layer.handle_timeout(now + Duration::from_secs(32));
//! assert_eq!(layer.len(), 0);
//! ```
//!
//! What the layer does beyond the four §17 machines, because a UAS/UAC core
//! on top of it would otherwise have to:
//! - stamps `received`/`rport` into the top Via of every response it sends
//!   when the request needs it (RFC 3261 §18.2.1, RFC 3581 §4);
//! - sends `100 Trying` for an INVITE the TU has not answered within 200 ms
//!   (§17.2.1);
//! - retransmits a 2xx to INVITE until the ACK (or a BYE in that call)
//!   arrives, and reports [`TxEvent::AckTimeout`] when none came within
//!   64*T1 (§13.3.1.4);
//! - generates the ACK for a non-2xx final response (§17.1.1.3);
//! - bounds an INVITE client transaction stuck in Proceeding with Timer C
//!   (§16.6 step 11), and destroys it 64*T1 after a CANCEL (§9.1).

mod key;
mod layer;
#[cfg(test)]
mod pair_tests;
mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

pub use key::{new_branch, response_dest, stamp_via, via_needs_stamp, Role, TxKey};
pub use layer::TransactionLayer;
pub use state::{ClientState, ServerState};

/// Protocol timer bases (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: SocketAddr,
    pub data: Bytes,
    /// True when the transaction runs over TCP/TLS/WS: send on the
    /// connection to `dest`, not the UDP socket.
    pub reliable: bool,
}

/// What the transaction user must do with an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerAction {
    /// A new request: the TU handles it and answers with
    /// [`TransactionLayer::respond`].
    New(TxKey),
    /// An ACK outside any INVITE server transaction: the ACK for a 2xx,
    /// which belongs to the dialog (RFC 3261 §13.3.1.4, §17.2.1). If it
    /// matched a 2xx the layer was retransmitting, the retransmission has
    /// stopped.
    AckForDialog,
    /// A retransmission; the layer queued the last response (or there was
    /// none yet).
    Retransmit,
    /// Consumed by the layer, e.g. the ACK for a non-2xx final response.
    Absorbed,
    /// A CANCEL for a live INVITE server transaction. The layer answered
    /// neither: the TU sends 200 on `cancel` and 487 on `invite` (a 487
    /// after a final response is silently dropped by the layer).
    Cancel { cancel: TxKey, invite: TxKey },
}

/// What the TU must do with an incoming response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAction {
    /// The first copy of a provisional or final response: act on it.
    Deliver,
    /// A retransmission the layer has dealt with (for a non-2xx final to
    /// INVITE it re-sent the ACK).
    Absorbed,
    /// A retransmitted 2xx to INVITE (same To tag as one delivered): the TU
    /// re-sends its ACK (RFC 3261 §13.2.2.4). A 2xx with a new To tag (a
    /// forked answer) is delivered as [`ClientAction::Deliver`].
    Retransmitted2xx,
}

/// Something the TU must know that no message carried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxEvent {
    /// Timer B or F (no final response: treat as 408), Timer H (no ACK for
    /// a non-2xx final), or the 64*T1 after a CANCEL / Timer C without a
    /// final response.
    Timeout(TxKey),
    /// Timer C: an INVITE we sent got a provisional but no final response
    /// for a long time. Send CANCEL; the transaction lingers 64*T1 more.
    TimerC(TxKey),
    /// A 2xx to INVITE was never ACKed within 64*T1: the TU should end the
    /// session with BYE (RFC 3261 §13.3.1.4).
    AckTimeout(TxKey),
    /// Reported by the shell with [`TransactionLayer::on_transport_error`].
    TransportError(TxKey),
    /// The transaction is gone; its key will not be reported again.
    Terminated(TxKey),
}
