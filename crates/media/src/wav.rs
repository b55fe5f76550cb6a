//! WAV (RIFF) reading and writing.
//!
//! Reads PCM 8/16/24/32-bit, IEEE float 32/64-bit, G.711 A-law and µ-law,
//! plain or `WAVE_FORMAT_EXTENSIBLE`, any channel count (downmixed to mono)
//! and any rate. Writes 16-bit PCM.

use crate::g711;
use crate::MediaError;

/// Decoded WAV audio: mono, 16-bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Mono samples.
    pub samples: Vec<i16>,
}

fn bad(msg: impl Into<String>) -> MediaError {
    MediaError::InvalidWav(msg.into())
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const FMT_PCM: u16 = 1;
const FMT_FLOAT: u16 = 3;
const FMT_ALAW: u16 = 6;
const FMT_ULAW: u16 = 7;
const FMT_EXTENSIBLE: u16 = 0xFFFE;

/// Parses a WAV file held in memory. Never panics on malformed input.
pub fn read_wav(bytes: &[u8]) -> Result<WavAudio, MediaError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let mut at = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None; // format, channels, rate, bits
    let mut data: Option<&[u8]> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32le(bytes, at + 4) as usize;
        let body_start = at + 8;
        // Tolerate a data chunk whose size overstates the file (streamed WAVs).
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => {
                if body.len() < 16 {
                    return Err(bad("fmt chunk too short"));
                }
                let mut format = u16le(body, 0);
                let channels = u16le(body, 2);
                let rate = u32le(body, 4);
                let bits = u16le(body, 14);
                if format == FMT_EXTENSIBLE {
                    if body.len() < 26 {
                        return Err(bad("extensible fmt chunk too short"));
                    }
                    format = u16le(body, 24);
                }
                fmt = Some((format, channels, rate, bits));
            }
            b"data" => data = Some(body),
            _ => {}
        }
        // Chunks are padded to an even size.
        at = body_start.saturating_add(size).saturating_add(size & 1);
    }
    let (format, channels, rate, bits) = fmt.ok_or_else(|| bad("no fmt chunk"))?;
    let data = data.ok_or_else(|| bad("no data chunk"))?;
    if channels == 0 || rate == 0 || rate > 384_000 {
        return Err(bad(format!(
            "unsupported channels {channels} / rate {rate}"
        )));
    }
    let bytes_per = match (format, bits) {
        (FMT_PCM, 8) | (FMT_ALAW, 8) | (FMT_ULAW, 8) => 1,
        (FMT_PCM, 16) => 2,
        (FMT_PCM, 24) => 3,
        (FMT_PCM, 32) | (FMT_FLOAT, 32) => 4,
        (FMT_FLOAT, 64) => 8,
        _ => return Err(bad(format!("unsupported format {format} with {bits} bits"))),
    };
    let frame = bytes_per * channels as usize;
    let mut samples = Vec::with_capacity(data.len() / frame);
    for f in data.chunks_exact(frame) {
        let mut acc = 0i64;
        for c in f.chunks_exact(bytes_per) {
            let s: i32 = match (format, bytes_per) {
                (FMT_PCM, 1) => (c[0] as i32 - 128) << 8,
                (FMT_ALAW, 1) => g711::alaw_decode(c[0]) as i32,
                (FMT_ULAW, 1) => g711::ulaw_decode(c[0]) as i32,
                (FMT_PCM, 2) => i16::from_le_bytes([c[0], c[1]]) as i32,
                (FMT_PCM, 3) => (i32::from_le_bytes([0, c[0], c[1], c[2]])) >> 16,
                (FMT_PCM, 4) => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) >> 16,
                (FMT_FLOAT, 4) => float_to_i16(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64),
                (FMT_FLOAT, 8) => float_to_i16(f64::from_le_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ])),
                _ => 0,
            };
            acc += s as i64;
        }
        samples.push((acc / channels as i64) as i16);
    }
    Ok(WavAudio { rate, samples })
}

fn float_to_i16(v: f64) -> i32 {
    if v.is_nan() {
        return 0;
    }
    (v * 32767.0).round().clamp(-32768.0, 32767.0) as i32
}

/// Encodes mono 16-bit PCM as a WAV file.
pub fn write_wav(samples: &[i16], rate: u32) -> Vec<u8> {
    write_wav_channels(samples, rate, 1)
}

/// Encodes interleaved 16-bit PCM with `channels` channels as a WAV file.
pub fn write_wav_channels(interleaved: &[i16], rate: u32, channels: u16) -> Vec<u8> {
    let data_len = (interleaved.len() * 2) as u32;
    let mut v = Vec::with_capacity(44 + data_len as usize);
    v.extend_from_slice(&wav_header(data_len, rate, channels));
    for s in interleaved {
        v.extend_from_slice(&s.to_le_bytes());
    }
    v
}

/// The 44-byte header of a 16-bit PCM WAV file holding `data_len` bytes.
pub fn wav_header(data_len: u32, rate: u32, channels: u16) -> [u8; 44] {
    let mut h = [0u8; 44];
    let block = 2 * channels;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&36u32.saturating_add(data_len).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FMT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * block as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_mono() {
        let s: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        let w = write_wav(&s, 8000);
        assert_eq!(w.len(), 44 + 2000);
        let back = read_wav(&w).unwrap();
        assert_eq!(
            back,
            WavAudio {
                rate: 8000,
                samples: s
            }
        );
    }

    #[test]
    fn stereo_downmix_and_odd_chunks() {
        let w = write_wav_channels(&[100, 300, -100, -300], 16000, 2);
        // Insert an odd-sized LIST chunk before fmt (padded to even).
        let mut v = w[..12].to_vec();
        v.extend_from_slice(b"LIST");
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&[1, 2, 3, 0]);
        v.extend_from_slice(&w[12..]);
        let a = read_wav(&v).unwrap();
        assert_eq!(a.rate, 16000);
        assert_eq!(a.samples, vec![200, -200]);
    }

    #[test]
    fn alaw_ulaw_u8_float() {
        let mk = |fmt: u16, bits: u16, data: &[u8]| {
            let mut v = write_wav(&[], 8000);
            v[20..22].copy_from_slice(&fmt.to_le_bytes());
            v[34..36].copy_from_slice(&bits.to_le_bytes());
            v[40..44].copy_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(data);
            read_wav(&v).unwrap().samples
        };
        assert_eq!(mk(FMT_ALAW, 8, &[0xD5]), vec![8]);
        assert_eq!(mk(FMT_ULAW, 8, &[0x80]), vec![32124]);
        assert_eq!(mk(FMT_PCM, 8, &[128, 255]), vec![0, 127 << 8]);
        assert_eq!(mk(FMT_FLOAT, 32, &0.5f32.to_le_bytes()), vec![16384]);
    }

    #[test]
    fn malformed_never_panics() {
        let good = write_wav(&[1, 2, 3], 8000);
        for n in 0..good.len() {
            let _ = read_wav(&good[..n]);
        }
        assert!(read_wav(b"RIFF\0\0\0\0WAVE").is_err());
        let mut huge = good.clone();
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_wav(&huge).is_err());
        let mut zero_ch = good;
        zero_ch[22] = 0;
        assert!(read_wav(&zero_ch).is_err());
    }
}
