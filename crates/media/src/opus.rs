//! Opus (RFC 6716) for one mono RTP stream, on the pure-Rust `opus-rs`
//! crate (a port of libopus: encoder and decoder, no C library).
//!
//! RTP (RFC 7587): dynamic payload type, `a=rtpmap:<pt> opus/48000/2`
//! whatever we send, timestamps at 48 kHz whatever the audio rate. We send
//! mono; a stereo packet from the peer decodes downmixed.
//!
//! Both ends work at any of 8, 12, 16, 24 or 48 kHz, so a G.711 or G.722
//! leg feeds Opus at its own rate without a resampler (the encoder then
//! codes only that bandwidth). 16-bit PCM in and out; no allocation after
//! construction.
//!
//! ```
//! use media::opus::{OpusDecoder, OpusEncoder};
//! let mut enc = OpusEncoder::new(48000).unwrap();
//! let mut dec = OpusDecoder::new(48000).unwrap();
//! let mut packet = [0u8; 1500];
//! let n = enc.encode(&[0i16; 960], &mut packet).unwrap(); // 20 ms
//! let mut pcm = [0i16; 960];
//! assert_eq!(dec.decode(&packet[..n], &mut pcm).unwrap(), 960);
//! ```

use crate::transcode::CodecError;
use crate::Codec;

/// The bit rate the encoder starts with: 32 kbit/s, enough for wideband
/// speech (RFC 7587 §3.1.1 suggests 28–40 kbit/s for fullband speech and
/// 8–12 for narrowband).
pub const DEFAULT_BITRATE: i32 = 32_000;

/// The longest Opus packet in samples at 48 kHz (120 ms, RFC 6716 §3.2.5).
const MAX_PACKET_48K: usize = 5760;

/// True for the audio rates Opus encodes and decodes natively.
pub const fn is_opus_rate(hz: u32) -> bool {
    matches!(hz, 8000 | 12000 | 16000 | 24000 | 48000)
}

fn rate_i32(hz: u32) -> Result<i32, CodecError> {
    if is_opus_rate(hz) {
        Ok(hz as i32)
    } else {
        Err(CodecError::Rate {
            codec: Codec::Opus,
            hz,
        })
    }
}

/// A mono Opus encoder (VoIP application).
pub struct OpusEncoder {
    enc: opus_rs::OpusEncoder,
    rate: u32,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .field("bitrate", &self.enc.bitrate_bps)
            .finish()
    }
}

impl OpusEncoder {
    /// An encoder taking mono PCM at `hz` (8, 12, 16, 24 or 48 kHz), at
    /// [`DEFAULT_BITRATE`], variable bit rate.
    pub fn new(hz: u32) -> Result<OpusEncoder, CodecError> {
        let mut enc = opus_rs::OpusEncoder::new(rate_i32(hz)?, 1, opus_rs::Application::Voip)
            .map_err(|reason| CodecError::Internal {
                codec: Codec::Opus,
                reason,
            })?;
        enc.bitrate_bps = DEFAULT_BITRATE;
        Ok(OpusEncoder { enc, rate: hz })
    }

    /// The PCM rate this encoder takes.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Sets the target bit rate (clamped to 500..=512,000 bit/s by the
    /// encoder).
    pub fn set_bitrate(&mut self, bps: i32) {
        self.enc.bitrate_bps = bps;
    }

    /// Sets the encoder's complexity, 0 (cheapest) to 10 (default 9): the
    /// main knob for CPU per packet (see the README's Codecs figures).
    pub fn set_complexity(&mut self, complexity: i32) {
        self.enc.complexity = complexity;
    }

    /// Turns in-band forward error correction on or off, for an expected
    /// loss rate in percent.
    pub fn set_inband_fec(&mut self, on: bool, loss_percent: i32) {
        self.enc.use_inband_fec = on;
        self.enc.packet_loss_perc = loss_percent;
    }

    /// Encodes one frame (10, 20, 40 or 60 ms of samples) into `out` and
    /// returns the packet length. (Opus also has 2.5 and 5 ms frames, but
    /// only in its CELT mode, which the VoIP encoder of `opus-rs` does not
    /// switch to for them; RTP telephony uses 10–60 ms.) `out` should
    /// hold 1,275 bytes to fit any packet; 1,500 is safe.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let n = pcm.len();
        // 10, 20, 40 ms (rate / d), or 60 ms.
        let (n64, rate) = (n as u64, self.rate as u64);
        let valid = [100, 50, 25].iter().any(|&d| n64 * d == rate) || n64 * 50 == rate * 3;
        if !valid {
            return Err(CodecError::FrameSize {
                codec: Codec::Opus,
                samples: n,
                hz: self.rate,
            });
        }
        self.enc
            .encode_i16(pcm, n, out)
            .map_err(|reason| CodecError::Internal {
                codec: Codec::Opus,
                reason,
            })
    }
}

/// A mono Opus decoder. Any bytes are safe input: a malformed packet is an
/// error, never a panic.
pub struct OpusDecoder {
    dec: opus_rs::OpusDecoder,
    rate: u32,
    /// The decoder's f32 output, converted to i16 after each packet.
    scratch: Box<[f32]>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder producing mono PCM at `hz` (8, 12, 16, 24 or 48 kHz).
    pub fn new(hz: u32) -> Result<OpusDecoder, CodecError> {
        let dec =
            opus_rs::OpusDecoder::new(rate_i32(hz)?, 1).map_err(|reason| CodecError::Internal {
                codec: Codec::Opus,
                reason,
            })?;
        let cap = MAX_PACKET_48K * hz as usize / 48000;
        Ok(OpusDecoder {
            dec,
            rate: hz,
            scratch: vec![0f32; cap].into_boxed_slice(),
        })
    }

    /// The PCM rate this decoder produces.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// The most samples one packet can decode to (120 ms).
    pub fn max_samples(&self) -> usize {
        self.scratch.len()
    }

    /// Decodes one packet into `out` and returns the samples written. A
    /// packet of 0 or 1 bytes is a lost frame and is concealed (20 ms for
    /// an empty one). Errors when the packet is malformed or decodes to more
    /// than `out` holds.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let cap = self.scratch.len();
        let frame = if packet.is_empty() {
            self.rate as usize / 50
        } else {
            cap
        };
        let n = self
            .dec
            .decode(packet, frame, &mut self.scratch[..frame])
            .map_err(|reason| CodecError::Malformed {
                codec: Codec::Opus,
                reason,
            })?;
        if n > out.len() {
            return Err(CodecError::FrameSize {
                codec: Codec::Opus,
                samples: n,
                hz: self.rate,
            });
        }
        for (o, &v) in out.iter_mut().zip(&self.scratch[..n]) {
            *o = (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_frame_sizes() {
        assert!(OpusEncoder::new(44100).is_err());
        assert!(OpusDecoder::new(11025).is_err());
        let mut enc = OpusEncoder::new(8000).unwrap();
        let mut out = [0u8; 1500];
        // 20 ms at 8 kHz is 160 samples; 150 is no Opus frame size.
        assert!(enc.encode(&[0; 160], &mut out).is_ok());
        assert!(matches!(
            enc.encode(&[0; 150], &mut out),
            Err(CodecError::FrameSize { samples: 150, .. })
        ));
        for n in [80, 160, 320, 480] {
            assert!(enc.encode(&vec![0; n], &mut out).is_ok(), "{n}");
        }
        // 2.5 and 5 ms are CELT-only frames: refused up front.
        for n in [20, 40] {
            assert!(enc.encode(&vec![0; n], &mut out).is_err(), "{n}");
        }
    }

    #[test]
    fn lost_frame_is_concealed() {
        let mut dec = OpusDecoder::new(16000).unwrap();
        let mut pcm = [1i16; 320];
        assert_eq!(dec.decode(&[], &mut pcm).unwrap(), 320);
    }
}
