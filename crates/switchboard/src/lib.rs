//! Switchboard: a SIP/RTP call-routing engine for contact centers.
//!
//! The binary (`main.rs`) loads a [`config::Config`], then
//! [`server::run`] drives an [`engine::Engine`]: the B2BUA that answers
//! carriers, queues callers in the `router`, rings agents, and bridges media
//! through `media` workers.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cdr;
pub mod cidr;
pub mod config;
pub mod duration;
pub mod engine;
pub mod hep;
pub mod logging;
pub mod metrics;
pub mod registrar;
pub mod server;
pub mod stats;
pub mod stun;
pub mod transport;
