//! # media — Switchboard's media engine
//!
//! RTP/RTCP relay workers, G.711, prompts and music on hold, DTMF, an
//! adaptive jitter buffer, an N−1 mixer, RTP statistics, and `rtpload`, an
//! RTP load generator (`src/bin/rtpload.rs`).
//!
//! The I/O lives in [`MediaEngine`]: worker threads (one current-thread tokio
//! runtime each) that own their sockets and sessions outright — on Linux in
//! private fd tables, so `RLIMIT_NOFILE` applies per worker (see
//! `src/relay/mod.rs`). Everything
//! else — [`rtp`], [`rtcp`], [`g711`], [`rewrite`], [`recv_stats`],
//! [`jitter`], [`mixer`], [`dtmf`], [`netem`], [`wav`], [`resample`] — is
//! sans-IO: plain functions and state machines that take bytes and
//! `Instant`s and never touch a socket or the clock.
//!
//! A jitter buffer and mixer run loop, as a terminating leg would drive them
//! on its 20 ms tick:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use media::jitter::{JitterBuffer, JitterConfig};
//! use media::mixer::{Mixer, Role};
//!
//! let t0 = Instant::now();
//! let mut jb = JitterBuffer::new(JitterConfig::default());
//! let mut mix = Mixer::new(160);
//! mix.add_party(1, Role::Participant); // caller
//! mix.add_party(2, Role::Participant); // agent
//! mix.add_party(3, Role::Whisper { to: 2 }); // supervisor coaching the agent
//! for tick in 0..10u32 {
//!     let now = t0 + Duration::from_millis(20 * tick as u64);
//!     jb.insert(now, tick as u16, tick * 160, &[0xFF; 160]); // caller's RTP payload
//!     let frame = mix.input_mut(1).unwrap();
//!     jb.pull(now + Duration::from_millis(5), frame);
//!     mix.mix();
//!     let _to_agent = mix.output(2).unwrap(); // encode and send
//! }
//! ```
//!
//! The engine, as call control drives it:
//!
//! ```no_run
//! use std::sync::Arc;
//! use media::{Codec, Leg, MediaConfig, MediaEngine, Prompt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = MediaEngine::start(MediaConfig::default())?;
//! let mut events = engine.events();
//! let music = Arc::new(Prompt::default_music());
//!
//! // Caller answered: put the caller on hold music.
//! let s = engine.create_session()?; // s.a / s.b go into the two SDP answers
//! engine.set_remote(s.id, Leg::A, "192.0.2.10:4000".parse()?, Codec::Pcmu);
//! engine.play(s.id, Leg::A, music.clone(), true);
//!
//! // Agent answered: relay both ways (music stops, the caller's stream
//! // stays one continuous SSRC/sequence/timestamp).
//! engine.set_remote(s.id, Leg::B, "192.0.2.20:5000".parse()?, Codec::Pcma);
//! engine.bridge(s.id);
//!
//! // Hang-up (or a `MediaEvent::RtpTimeout` from `events`): free the ports.
//! println!("{:?}", s.stats.snapshot());
//! engine.release(s.id);
//! # drop(events.try_recv());
//! # Ok(()) }
//! ```

mod codec;
pub mod dtmf;
mod engine;
mod error;
pub mod g711;
pub mod g722;
pub mod jitter;
pub mod mixer;
pub mod netem;
pub mod opus;
mod pool;
mod prompt;
pub mod recorder;
pub mod recv_stats;
mod relay;
pub mod resample;
pub mod rewrite;
pub mod rtcp;
pub mod rtp;
mod simd;
mod stats;
pub mod transcode;
pub mod wav;

pub use codec::Codec;
pub use engine::{Leg, MediaConfig, MediaEngine, MediaEvent, MonitorMode, Session, SessionId};
pub use error::MediaError;
pub use pool::{PortLease, PortPool};
pub use prompt::{Prompt, PROMPT_RATE};
pub use stats::{LegSnapshot, LegStats, SessionStats, StatsSnapshot};
