//! Transports: UDP sockets and TCP connections feed one channel of
//! [`Inbound`] messages into the engine task; the engine's transmits go out
//! on UDP or on the TCP connection to their destination.

pub mod tcp;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

/// One message (datagram or framed stream message) for the engine.
#[derive(Debug)]
pub struct Inbound {
    /// When the transport received it (its wait drives the overload gate).
    pub at: Instant,
    pub source: SocketAddr,
    pub data: Bytes,
    /// Stream transport (TCP): no retransmissions, answers on the connection.
    pub reliable: bool,
}
