//! Transports: UDP sockets and TCP connections feed one channel of
//! [`Inbound`] messages into the engine task; the engine's transmits go out
//! on UDP or on the TCP connection to their destination.

pub mod tcp;
pub mod tls;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

/// The transport a message came on or a dialog runs over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Proto {
    /// Stream transports: no retransmissions, replies on the connection.
    pub fn reliable(self) -> bool {
        self != Proto::Udp
    }

    /// The transport token of a Via header.
    pub fn via_name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
        }
    }
}

/// One message (datagram or framed stream message) for the engine.
#[derive(Debug)]
pub struct Inbound {
    /// When the transport received it (its wait drives the overload gate).
    pub at: Instant,
    pub source: SocketAddr,
    pub data: Bytes,
    pub proto: Proto,
}
