//! Audio to play to a leg: announcements and music on hold.

use std::f64::consts::PI;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::{resample, wav, MediaError};

/// The rate prompts are stored at (narrowband; G.711).
pub const PROMPT_RATE: u32 = 8000;

/// Mono 16-bit audio at [`PROMPT_RATE`], cheap to clone and share between
/// sessions (wrap it in an `Arc` for [`crate::MediaEngine::play`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    samples: Arc<[i16]>,
}

impl Prompt {
    /// Loads a WAV file (any PCM/float/G.711 format, any rate, any number of
    /// channels; resampled to 8 kHz mono).
    pub fn from_wav(path: &Path) -> Result<Prompt, MediaError> {
        let bytes = std::fs::read(path)?;
        Self::from_wav_bytes(&bytes)
    }

    /// Like [`Prompt::from_wav`] from bytes in memory.
    pub fn from_wav_bytes(bytes: &[u8]) -> Result<Prompt, MediaError> {
        let a = wav::read_wav(bytes)?;
        Ok(Self::from_pcm(&a.samples, a.rate))
    }

    /// From mono 16-bit samples at `rate` Hz (resampled to 8 kHz).
    pub fn from_pcm(samples: &[i16], rate: u32) -> Prompt {
        let s = resample::resample(samples, rate, PROMPT_RATE);
        Prompt { samples: s.into() }
    }

    /// A steady sine tone at `level_dbfs` (e.g. -20.0), with 5 ms fades so it
    /// loops without clicks when `duration` holds whole periods.
    pub fn tone(freq_hz: f64, duration: Duration, level_dbfs: f64) -> Prompt {
        let n = (duration.as_secs_f64() * PROMPT_RATE as f64).round() as usize;
        let amp = 32767.0 * 10f64.powf(level_dbfs / 20.0);
        let fade = 40.min(n / 2).max(1);
        let s: Vec<i16> = (0..n)
            .map(|i| {
                let env = (i.min(n - 1 - i) as f64 / fade as f64).min(1.0);
                (amp * env * (2.0 * PI * freq_hz * i as f64 / PROMPT_RATE as f64).sin()) as i16
            })
            .collect();
        Prompt { samples: s.into() }
    }

    /// Silence.
    pub fn silence(duration: Duration) -> Prompt {
        let n = (duration.as_secs_f64() * PROMPT_RATE as f64).round() as usize;
        Prompt {
            samples: vec![0; n].into(),
        }
    }

    /// Prompts played one after the other ("your call is important" +
    /// "you are number" + "3").
    pub fn concat(parts: &[&Prompt]) -> Prompt {
        let mut v = Vec::with_capacity(parts.iter().map(|p| p.samples.len()).sum());
        for p in parts {
            v.extend_from_slice(&p.samples);
        }
        Prompt { samples: v.into() }
    }

    /// A soft, seamless 8-second hold-music loop synthesised in code: a
    /// I–vi–IV–V progression in C, arpeggiated bell-like notes over a quiet
    /// pad, peaking around -12 dBFS. Use it when no music file is configured.
    pub fn default_music() -> Prompt {
        const CHORDS: [[i32; 4]; 4] = [
            [60, 64, 67, 72], // C
            [57, 60, 64, 69], // Am
            [53, 57, 60, 65], // F
            [55, 59, 62, 67], // G
        ];
        const PATTERN: [usize; 8] = [0, 1, 2, 3, 2, 1, 2, 1];
        let rate = PROMPT_RATE as f64;
        let chord_len = 2 * PROMPT_RATE as usize;
        let total = chord_len * CHORDS.len();
        let note_len = chord_len / PATTERN.len();
        let mut acc = vec![0f64; total];
        let midi = |m: i32| 440.0 * 2f64.powf((m - 69) as f64 / 12.0);
        for (c, chord) in CHORDS.iter().enumerate() {
            let start = c * chord_len;
            // Pad: root an octave down plus fifth, with slow attack/release.
            for i in 0..chord_len {
                let t = i as f64 / rate;
                let env = (i.min(chord_len - 1 - i) as f64 / (0.25 * rate)).min(1.0);
                let env = env * env * (3.0 - 2.0 * env);
                let root = midi(chord[0] - 12);
                let fifth = root * 1.5;
                let v = (2.0 * PI * root * t).sin() + 0.6 * (2.0 * PI * fifth * t).sin();
                acc[start + i] += 1100.0 * env * v;
            }
            // Arpeggio: soft bell notes, tails wrap around the loop end.
            for (k, &idx) in PATTERN.iter().enumerate() {
                let f = midi(chord[idx]);
                let n0 = start + k * note_len;
                let tail = (1.2 * rate) as usize;
                for i in 0..tail {
                    let t = i as f64 / rate;
                    let attack = (t / 0.008).min(1.0);
                    let env = attack * (-t / 0.30).exp();
                    let v = (2.0 * PI * f * t).sin() + 0.25 * (2.0 * PI * 2.0 * f * t).sin();
                    acc[(n0 + i) % total] += 2600.0 * env * v;
                }
            }
        }
        let s: Vec<i16> = acc
            .iter()
            .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        Prompt { samples: s.into() }
    }

    /// The samples (8 kHz mono).
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Length in time.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / PROMPT_RATE as u64)
    }

    /// The prompt as a 16-bit 8 kHz mono WAV file.
    pub fn to_wav_bytes(&self) -> Vec<u8> {
        wav::write_wav(&self.samples, PROMPT_RATE)
    }

    /// Writes the prompt as a 16-bit 8 kHz mono WAV file, e.g. to generate
    /// the default configuration's hold music:
    /// `Prompt::default_music().write_wav("config/media/hold.wav".as_ref())`.
    pub fn write_wav(&self, path: &Path) -> Result<(), MediaError> {
        std::fs::write(path, self.to_wav_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_music_is_soft_and_loops() {
        let m = Prompt::default_music();
        assert_eq!(m.duration(), Duration::from_secs(8));
        let s = m.samples();
        let peak = s.iter().map(|&v| (v as i32).abs()).max().unwrap();
        assert!(peak > 3000 && peak < 16000, "peak {peak}");
        // No click at the loop seam: the step across it is like any other.
        let seam = (s[0] as i32 - s[s.len() - 1] as i32).abs();
        assert!(seam < 1500, "seam {seam}");
    }

    #[test]
    fn tone_level_and_wav_roundtrip() {
        let t = Prompt::tone(400.0, Duration::from_secs(1), -20.0);
        assert_eq!(t.samples().len(), 8000);
        let peak = t.samples().iter().map(|&v| v.abs()).max().unwrap();
        assert!((3200..=3300).contains(&peak), "{peak}");
        let back = Prompt::from_wav_bytes(&t.to_wav_bytes()).unwrap();
        assert_eq!(back, t);
        let dir = std::env::temp_dir().join(format!("media-prompt-{}.wav", std::process::id()));
        t.write_wav(&dir).unwrap();
        assert_eq!(Prompt::from_wav(&dir).unwrap(), t);
        std::fs::remove_file(dir).unwrap();
    }

    #[test]
    fn concat_and_silence() {
        let a = Prompt::silence(Duration::from_millis(100));
        let b = Prompt::tone(1000.0, Duration::from_millis(50), -10.0);
        let c = Prompt::concat(&[&a, &b]);
        assert_eq!(c.samples().len(), 1200);
        assert_eq!(c.duration(), Duration::from_millis(150));
    }
}
