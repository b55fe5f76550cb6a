//! `sip-core`: SIP on the wire and its state machines, with no sockets and no
//! clock reads.
//!
//! Messages are parsed zero-copy: a [`Message`] owns one [`bytes::Bytes`]
//! buffer and records where each part lies in it; typed views ([`Via`],
//! [`NameAddr`], [`Uri`], [`CSeq`]) borrow from that buffer.
//!
//! ```
//! use sip_core::{Message, Method};
//! let raw = "OPTIONS sip:engine@127.0.0.1 SIP/2.0\r\n\
//!            Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
//!            From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:engine@127.0.0.1>\r\n\
//!            Call-ID: abc\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
//! let msg = Message::parse(bytes::Bytes::from(raw)).unwrap();
//! assert_eq!(msg.method(), Some(Method::Options));
//! assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bK1"));
//! let answer = sip_core::ResponseBuilder::new(&msg, 200).build();
//! assert!(answer.starts_with(b"SIP/2.0 200 OK\r\n"));
//! ```
#![forbid(unsafe_code)]

pub mod auth;
mod builder;
mod cseq;
pub mod dialog;
mod error;
#[cfg(test)]
mod fast_path_tests;
mod header;
mod message;
mod method;
pub mod multipart;
mod name_addr;
mod params;
pub mod sdp;
mod serialize;
mod split;
pub mod transaction;
mod uri;
mod via;

pub use auth::{AuthError, DigestAlgorithm, DigestServer};
pub use builder::{reason_phrase, RequestBuilder, ResponseBuilder};
pub use cseq::CSeq;
pub use error::ParseError;
pub use header::HeaderName;
pub use message::{HeaderField, Message, StartLine, MAX_MESSAGE_SIZE};
pub use method::Method;
pub use name_addr::NameAddr;
pub use params::{param, Params};
pub use split::split_commas;
pub use uri::{Scheme, Uri};
pub use via::{Via, BRANCH_COOKIE};
