//! Codec conversion for media the engine terminates or bridges between
//! legs that negotiated different codecs.
//!
//! - [`AudioDecoder`]: RTP payload → 16-bit mono PCM at the codec's rate or
//!   at any rate asked for (what a mixer or recorder running at 8, 16 or
//!   48 kHz needs).
//! - [`AudioEncoder`]: PCM at some rate → RTP payload.
//! - [`Transcoder`]: payload in codec A → payload in codec B, one packet in,
//!   one packet of the same duration out (decode → resample → encode).
//!
//! Each is stateful per stream (ADPCM predictors, Opus state, resampler
//! history) and allocates only when built: the per-packet calls write into
//! buffers sized for 200 ms (any payload that fits an Ethernet MTU) and
//! return slices of them. Sans-IO: no socket, no clock.
//!
//! Choices that keep the path short:
//!
//! - same codec: the payload is returned as is; µ-law ↔ A-law: one table
//!   lookup per byte;
//! - Opus encodes and decodes at 8, 16 and 48 kHz natively, so G.711 and
//!   G.722 legs meet Opus at their own rate, with no resampler;
//! - G.711 ↔ G.722: the polyphase [`Resampler`] between 8 and 16 kHz.
//!
//! ```
//! use media::transcode::{AudioDecoder, AudioEncoder, Transcoder};
//! use media::Codec;
//!
//! let mut enc = AudioEncoder::new(Codec::Pcmu);
//! let mut pcmu_to_g722 = Transcoder::new(Codec::Pcmu, Codec::G722);
//! let mut dec = AudioDecoder::with_rate(Codec::G722, 48000).unwrap();
//! let tone: Vec<i16> = (0..160).map(|i| ((i % 8) as i16 - 4) * 1000).collect();
//! let payload = enc.encode(&tone).unwrap(); // 160 bytes of µ-law
//! let g722 = pcmu_to_g722.transcode(payload).unwrap(); // 160 bytes of G.722
//! assert_eq!(g722.len(), 160);
//! assert_eq!(dec.decode(g722).unwrap().len(), 960); // 20 ms at 48 kHz
//! ```

use crate::g711;
use crate::g722::{G722Decoder, G722Encoder};
use crate::opus::{is_opus_rate, OpusDecoder, OpusEncoder};
use crate::resample::Resampler;
use crate::Codec;

/// The longest packet handled, in milliseconds: 1,500 bytes of G.711 or
/// G.722 is 187.5 ms; Opus packets are at most 120 ms.
pub const MAX_PACKET_MS: usize = 200;

/// Room for an encoded packet: any 200 ms of G.711 / G.722 (1,600 bytes),
/// or an Opus packet (at most 1,275 bytes per frame, we send one frame).
const MAX_PAYLOAD: usize = 1600;

/// Why a packet could not be decoded or encoded. Whose fault: `Malformed`
/// is the peer's (a bad payload), `FrameSize` and `Rate` the caller's
/// (a packet duration or rate the codec cannot do), `Internal` ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The peer sent a payload the codec cannot decode.
    #[error("{codec:?}: malformed payload: {reason}")]
    Malformed {
        /// The codec.
        codec: Codec,
        /// What the decoder said.
        reason: &'static str,
    },
    /// A packet of this many samples is not one the codec can code (Opus:
    /// 10, 20, 40, 60 ms frames), or is longer than [`MAX_PACKET_MS`].
    #[error("{codec:?}: cannot code {samples} samples at {hz} Hz in one packet")]
    FrameSize {
        /// The codec.
        codec: Codec,
        /// Samples in the packet.
        samples: usize,
        /// Their rate.
        hz: u32,
    },
    /// The codec or resampler cannot work at this rate.
    #[error("{codec:?}: unsupported PCM rate {hz} Hz")]
    Rate {
        /// The codec.
        codec: Codec,
        /// The rate asked for.
        hz: u32,
    },
    /// The codec library failed on input we gave it.
    #[error("{codec:?}: codec failure: {reason}")]
    Internal {
        /// The codec.
        codec: Codec,
        /// What the library said.
        reason: &'static str,
    },
}

fn samples_in(ms: usize, hz: u32) -> usize {
    ms * hz as usize / 1000
}

enum Dec {
    Pcmu,
    Pcma,
    G722(Box<G722Decoder>),
    Opus(Box<OpusDecoder>),
}

/// Decodes one stream's RTP payloads to 16-bit mono PCM at a fixed rate.
pub struct AudioDecoder {
    codec: Codec,
    rate: u32,
    dec: Dec,
    /// Decoded at the codec's own rate (Opus: at `rate` when it can).
    native: Box<[i16]>,
    /// `native` → `rate`, when they differ.
    resampler: Option<Resampler>,
    /// Output at `rate` when resampling.
    pcm: Box<[i16]>,
}

impl std::fmt::Debug for AudioDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDecoder")
            .field("codec", &self.codec)
            .field("rate", &self.rate)
            .field("resampling", &self.resampler.is_some())
            .finish()
    }
}

impl AudioDecoder {
    /// A decoder producing PCM at the codec's own rate
    /// ([`Codec::sample_rate`]: G.722 16 kHz, Opus 48 kHz).
    pub fn new(codec: Codec) -> AudioDecoder {
        AudioDecoder::with_rate(codec, codec.sample_rate())
            .expect("a codec's own rate is always supported")
    }

    /// A decoder producing PCM at `hz` (resampling when the codec's rate
    /// differs; Opus decodes natively at 8, 12, 16, 24 and 48 kHz).
    pub fn with_rate(codec: Codec, hz: u32) -> Result<AudioDecoder, CodecError> {
        let native_rate = match codec {
            Codec::Opus if is_opus_rate(hz) => hz,
            _ => codec.sample_rate(),
        };
        let dec = match codec {
            Codec::Pcmu => Dec::Pcmu,
            Codec::Pcma => Dec::Pcma,
            Codec::G722 => Dec::G722(Box::default()),
            Codec::Opus => Dec::Opus(Box::new(OpusDecoder::new(native_rate)?)),
        };
        let resampler = if native_rate == hz {
            None
        } else if Resampler::supports(native_rate, hz) {
            Some(Resampler::new(native_rate, hz))
        } else {
            return Err(CodecError::Rate { codec, hz });
        };
        let native = vec![0i16; samples_in(MAX_PACKET_MS, native_rate)].into_boxed_slice();
        let pcm_len = if resampler.is_some() {
            samples_in(MAX_PACKET_MS, hz) + 1
        } else {
            0
        };
        Ok(AudioDecoder {
            codec,
            rate: hz,
            dec,
            native,
            resampler,
            pcm: vec![0i16; pcm_len].into_boxed_slice(),
        })
    }

    /// The codec decoded.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The rate of the PCM produced.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Decodes one payload (continuing the stream) and returns its samples
    /// at [`sample_rate`](Self::sample_rate).
    pub fn decode(&mut self, payload: &[u8]) -> Result<&[i16], CodecError> {
        let cap = self.native.len();
        let codec = self.codec;
        let too_long = |samples: usize| CodecError::FrameSize {
            codec,
            samples,
            hz: codec.sample_rate(),
        };
        let n = match &mut self.dec {
            Dec::Pcmu | Dec::Pcma if payload.len() > cap => return Err(too_long(payload.len())),
            Dec::G722(_) if payload.len() * 2 > cap => return Err(too_long(payload.len() * 2)),
            Dec::Pcmu => {
                g711::ulaw_decode_slice(payload, &mut self.native[..payload.len()]);
                payload.len()
            }
            Dec::Pcma => {
                g711::alaw_decode_slice(payload, &mut self.native[..payload.len()]);
                payload.len()
            }
            Dec::G722(d) => d.decode(payload, &mut self.native),
            // An empty payload would mean "lost": not for this call.
            Dec::Opus(_) if payload.is_empty() => 0,
            Dec::Opus(d) => d.decode(payload, &mut self.native)?,
        };
        Ok(self.finish(n))
    }

    /// Conceals one lost 20 ms packet: Opus's packet loss concealment;
    /// silence for G.711 and G.722 (whose decoder state is left as it was).
    pub fn conceal(&mut self) -> Result<&[i16], CodecError> {
        let n = match &mut self.dec {
            Dec::Opus(d) => d.decode(&[], &mut self.native)?,
            _ => {
                let n = self.codec.samples_per_20ms();
                self.native[..n].fill(0);
                n
            }
        };
        Ok(self.finish(n))
    }

    fn finish(&mut self, n: usize) -> &[i16] {
        match &mut self.resampler {
            None => &self.native[..n],
            Some(r) => {
                let m = r.process(&self.native[..n], &mut self.pcm);
                &self.pcm[..m]
            }
        }
    }
}

enum Enc {
    Pcmu,
    Pcma,
    G722(Box<G722Encoder>),
    Opus(Box<OpusEncoder>),
}

/// Encodes one stream's 16-bit mono PCM, at a fixed rate, to RTP payloads.
pub struct AudioEncoder {
    codec: Codec,
    rate: u32,
    enc: Enc,
    /// `rate` → the codec's rate, when they differ.
    resampler: Option<Resampler>,
    /// Resampled input.
    native: Box<[i16]>,
    out: Box<[u8]>,
}

impl std::fmt::Debug for AudioEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEncoder")
            .field("codec", &self.codec)
            .field("rate", &self.rate)
            .field("resampling", &self.resampler.is_some())
            .finish()
    }
}

impl AudioEncoder {
    /// An encoder taking PCM at the codec's own rate.
    pub fn new(codec: Codec) -> AudioEncoder {
        AudioEncoder::with_rate(codec, codec.sample_rate())
            .expect("a codec's own rate is always supported")
    }

    /// An encoder taking PCM at `hz` (resampled to the codec's rate when
    /// they differ; Opus encodes natively at 8, 12, 16, 24 and 48 kHz).
    pub fn with_rate(codec: Codec, hz: u32) -> Result<AudioEncoder, CodecError> {
        let native_rate = match codec {
            Codec::Opus if is_opus_rate(hz) => hz,
            _ => codec.sample_rate(),
        };
        let enc = match codec {
            Codec::Pcmu => Enc::Pcmu,
            Codec::Pcma => Enc::Pcma,
            Codec::G722 => Enc::G722(Box::default()),
            Codec::Opus => Enc::Opus(Box::new(OpusEncoder::new(native_rate)?)),
        };
        let resampler = if native_rate == hz {
            None
        } else if Resampler::supports(hz, native_rate) {
            Some(Resampler::new(hz, native_rate))
        } else {
            return Err(CodecError::Rate { codec, hz });
        };
        let native_len = if resampler.is_some() {
            samples_in(MAX_PACKET_MS, native_rate) + 1
        } else {
            0
        };
        Ok(AudioEncoder {
            codec,
            rate: hz,
            enc,
            resampler,
            native: vec![0i16; native_len].into_boxed_slice(),
            out: vec![0u8; MAX_PAYLOAD].into_boxed_slice(),
        })
    }

    /// The codec produced.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The PCM rate taken.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Mutable access to the Opus encoder (bit rate, FEC), if this is one.
    pub fn opus_mut(&mut self) -> Option<&mut OpusEncoder> {
        match &mut self.enc {
            Enc::Opus(e) => Some(e),
            _ => None,
        }
    }

    /// Encodes one packet's worth of PCM (continuing the stream) and
    /// returns the payload. Opus needs 10, 20, 40 or 60 ms; G.722 codes sample pairs
    /// (20 ms is 320 samples at 16 kHz).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<&[u8], CodecError> {
        if pcm.len() > samples_in(MAX_PACKET_MS, self.rate) {
            return Err(CodecError::FrameSize {
                codec: self.codec,
                samples: pcm.len(),
                hz: self.rate,
            });
        }
        let x: &[i16] = match &mut self.resampler {
            None => pcm,
            Some(r) => {
                let m = r.process(pcm, &mut self.native);
                &self.native[..m]
            }
        };
        let n = match &mut self.enc {
            Enc::Pcmu => {
                g711::ulaw_encode_slice(x, &mut self.out[..x.len()]);
                x.len()
            }
            Enc::Pcma => {
                g711::alaw_encode_slice(x, &mut self.out[..x.len()]);
                x.len()
            }
            Enc::G722(e) => e.encode(x, &mut self.out),
            Enc::Opus(e) => e.encode(x, &mut self.out)?,
        };
        Ok(&self.out[..n])
    }
}

enum Mode {
    /// Same codec: the payload as it is.
    Pass,
    /// µ-law ↔ A-law: a byte table.
    Table(fn(u8) -> u8, Box<[u8]>),
    /// Decode → (resample) → encode.
    Full(Box<(AudioDecoder, AudioEncoder)>),
}

/// Converts one stream's RTP payloads from one codec to another.
pub struct Transcoder {
    from: Codec,
    to: Codec,
    mode: Mode,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.mode {
            Mode::Pass => "pass",
            Mode::Table(..) => "table",
            Mode::Full(_) => "decode-encode",
        };
        f.debug_struct("Transcoder")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("mode", &mode)
            .finish()
    }
}

impl Transcoder {
    /// A transcoder for one stream from `from` to `to`.
    pub fn new(from: Codec, to: Codec) -> Transcoder {
        let mode = match (from, to, from.g711_table(to)) {
            _ if from == to => Mode::Pass,
            (_, _, Some(table)) => Mode::Table(table, vec![0; MAX_PAYLOAD].into()),
            _ => {
                // Meet at the rate that needs no resampler when Opus is on
                // either side (it codes 8 and 16 kHz natively), else at the
                // target codec's rate.
                let rate = if to == Codec::Opus {
                    from.sample_rate()
                } else {
                    to.sample_rate()
                };
                let dec = AudioDecoder::with_rate(from, rate)
                    .expect("codec rates 8/16/48 kHz are always supported");
                let enc = AudioEncoder::with_rate(to, rate)
                    .expect("codec rates 8/16/48 kHz are always supported");
                Mode::Full(Box::new((dec, enc)))
            }
        };
        Transcoder { from, to, mode }
    }

    /// The source codec.
    pub fn from_codec(&self) -> Codec {
        self.from
    }

    /// The target codec.
    pub fn to_codec(&self) -> Codec {
        self.to
    }

    /// True when payloads pass unchanged (same codec).
    pub fn is_passthrough(&self) -> bool {
        matches!(self.mode, Mode::Pass)
    }

    /// Converts one payload (continuing the stream) to the target codec.
    /// The result covers the same duration, so the RTP timestamp advances
    /// by the same time: `ticks × to.clock_rate() / from.clock_rate()`.
    pub fn transcode<'a>(&'a mut self, payload: &'a [u8]) -> Result<&'a [u8], CodecError> {
        match &mut self.mode {
            Mode::Pass => Ok(payload),
            Mode::Table(f, buf) => {
                if payload.len() > buf.len() {
                    return Err(CodecError::FrameSize {
                        codec: self.from,
                        samples: payload.len(),
                        hz: 8000,
                    });
                }
                for (o, &b) in buf.iter_mut().zip(payload) {
                    *o = f(b);
                }
                Ok(&buf[..payload.len()])
            }
            Mode::Full(pair) => {
                let (dec, enc) = &mut **pair;
                let pcm = dec.decode(payload)?;
                enc.encode(pcm)
            }
        }
    }

    /// Produces the target-codec payload for one lost 20 ms source packet
    /// (Opus concealment, else silence), keeping the encoder's state
    /// continuous. Same codec: `None` (nothing to send).
    pub fn conceal(&mut self) -> Result<Option<&[u8]>, CodecError> {
        match &mut self.mode {
            Mode::Pass | Mode::Table(..) => Ok(None),
            Mode::Full(pair) => {
                let (dec, enc) = &mut **pair;
                let pcm = dec.conceal()?;
                enc.encode(pcm).map(Some)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_per_20ms() {
        for from in Codec::ALL {
            for to in Codec::ALL {
                let mut enc = AudioEncoder::new(from);
                let mut t = Transcoder::new(from, to);
                let mut dec = AudioDecoder::new(to);
                let pcm = vec![0i16; from.samples_per_20ms()];
                let p = enc.encode(&pcm).unwrap().to_vec();
                let q = t.transcode(&p).unwrap().to_vec();
                if to != Codec::Opus {
                    assert_eq!(q.len(), 160, "{from:?} -> {to:?}");
                }
                let out = dec.decode(&q).unwrap();
                assert_eq!(out.len(), to.samples_per_20ms(), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn decode_at_any_rate() {
        for codec in Codec::ALL {
            for hz in [8000, 16000, 48000] {
                let mut enc = AudioEncoder::new(codec);
                let mut dec = AudioDecoder::with_rate(codec, hz).unwrap();
                let p = enc
                    .encode(&vec![0i16; codec.samples_per_20ms()])
                    .unwrap()
                    .to_vec();
                assert_eq!(dec.decode(&p).unwrap().len(), hz as usize / 50);
                assert_eq!(dec.conceal().unwrap().len(), hz as usize / 50);
            }
        }
        assert!(matches!(
            AudioDecoder::with_rate(Codec::Pcmu, 44100),
            Err(CodecError::Rate { .. })
        ));
    }

    #[test]
    fn oversize_is_an_error() {
        let mut dec = AudioDecoder::new(Codec::G722);
        assert!(matches!(
            dec.decode(&[0u8; 1700]),
            Err(CodecError::FrameSize { .. })
        ));
        let mut enc = AudioEncoder::new(Codec::Pcmu);
        assert!(enc.encode(&[0i16; 1700]).is_err());
        let mut t = Transcoder::new(Codec::Pcmu, Codec::Pcma);
        assert!(t.transcode(&[0u8; 1700]).is_err());
    }
}
