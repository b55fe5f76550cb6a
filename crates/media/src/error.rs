//! The media engine's error type.

use std::io;

/// Errors returned by the media engine.
///
/// The variants say whose fault it was: the engine's resources (ports), the
/// operating system (I/O), or the input given to us (a WAV file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Every even port of the configured RTP range is in use (or could not be
    /// bound). Ours/config's: widen `port_min..=port_max` or shed load.
    #[error("RTP port range exhausted")]
    PortsExhausted,
    /// The configuration cannot work (e.g. an empty or inverted port range).
    #[error("invalid media configuration: {0}")]
    Config(String),
    /// A socket or file operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A WAV file is malformed or uses a format we do not read.
    #[error("invalid WAV file: {0}")]
    InvalidWav(String),
    /// The engine's workers have stopped.
    #[error("media engine stopped")]
    Stopped,
}
