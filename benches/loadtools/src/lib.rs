//! Helpers for the load and comparison scripts in `benches/compare/`.
//!
//! - `relayhost`: Switchboard's relay (`media::MediaEngine`) in its own
//!   process with N bridged sessions, so that `rtpload --pairs-file` drives
//!   it exactly as it drives rtpengine (separate processes, latching, CPU
//!   read from `/proc`).
