//! Resampling.
//!
//! - [`Resampler`]: streaming, for the real-time path (8 / 16 / 48 kHz and
//!   any other small rational ratio). State is kept across calls, so a
//!   signal fed in 20 ms frames comes out exactly as if fed whole; buffers
//!   are allocated once, at construction, never per frame.
//! - [`resample`]: offline, whole signals (prompts loaded from files), a
//!   Hann-windowed sinc normalised at the edges.
//!
//! ```
//! use media::resample::Resampler;
//! let mut up = Resampler::new(8000, 48000);
//! let frame = [0i16; 160]; // 20 ms at 8 kHz
//! let mut out = [0i16; 960];
//! assert_eq!(up.process(&frame, &mut out), 960);
//! ```

/// Samples converted per internal step; longer inputs are processed in
/// pieces of this size (960 = 20 ms at 48 kHz).
const CHUNK: usize = 960;

/// Stopband attenuation of the designed low-pass, in dB.
const STOPBAND_DB: f64 = 70.0;

/// Half-width of the transition band, as a fraction of the lower of the
/// two Nyquist frequencies: the pass band ends at 0.85 × Nyquist (3.4 kHz
/// for 8 kHz), the stop band starts at 1.15 × (4.6 kHz), so nothing that
/// folds below 3.4 kHz is attenuated by less than [`STOPBAND_DB`].
const TRANSITION: f64 = 0.15;

/// A streaming polyphase resampler from one rate to another, for 16-bit
/// mono audio.
///
/// Converts by L/M (the reduced ratio `to/from`; 8→16 kHz is 2/1, 48→8 is
/// 1/6, 16→48 is 3/1) with one Kaiser-windowed sinc low-pass designed at
/// `from × L` Hz and split into L phases of K taps: each output sample is
/// one K-tap dot product (K ≈ 34 for 8→48 kHz, 200 for 48→8 kHz).
/// Equal rates copy.
#[derive(Clone, Debug)]
pub struct Resampler {
    from: u32,
    to: u32,
    l: usize,
    m: usize,
    /// Taps per phase.
    k: usize,
    /// `l` phases of `k` taps, each reversed (oldest input first) and
    /// scaled by `l` (unit gain after zero-stuffing).
    coeffs: Vec<f32>,
    /// `k − 1` samples of history, then up to [`CHUNK`] new ones.
    buf: Vec<f32>,
    /// Phase of the next output: (n · M) mod L.
    phase: usize,
    /// Input index (into the current chunk) of the newest sample the next
    /// output uses.
    base: usize,
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz`, both non-zero, whose reduced
    /// ratio L/M has L, M ≤ 48 (any pair of the telephony rates 8, 16,
    /// 24, 32, 44.1, 48 kHz qualifies except 44.1 ↔ others). Allocates
    /// its buffers and designs its filter here, once.
    ///
    /// # Panics
    ///
    /// On a zero rate or a ratio outside that bound (a configuration
    /// error, not a peer's).
    pub fn new(from_hz: u32, to_hz: u32) -> Resampler {
        assert!(
            Resampler::supports(from_hz, to_hz),
            "resampler {from_hz} -> {to_hz} Hz: zero rate or ratio too fine"
        );
        let g = gcd(from_hz, to_hz);
        let (l, m) = ((to_hz / g) as usize, (from_hz / g) as usize);
        if l == 1 && m == 1 {
            return Resampler {
                from: from_hz,
                to: to_hz,
                l,
                m,
                k: 1,
                coeffs: vec![1.0],
                buf: Vec::new(),
                phase: 0,
                base: 0,
            };
        }
        // Prototype low-pass at rate R = from · L, cut at the lower Nyquist.
        let r = from_hz as f64 * l as f64;
        let nyq = from_hz.min(to_hz) as f64 / 2.0;
        let dw = 2.0 * std::f64::consts::PI * (2.0 * TRANSITION * nyq) / r;
        let n_min = ((STOPBAND_DB - 8.0) / (2.285 * dw)).ceil() as usize + 1;
        let k = n_min.div_ceil(l);
        let n = k * l;
        let beta = 0.1102 * (STOPBAND_DB - 8.7);
        let fc = nyq / r; // cycles per prototype sample
        let mid = (n - 1) as f64 / 2.0;
        let i0b = bessel_i0(beta);
        let h: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 - mid;
                let sinc = if t == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * t).sin() / (std::f64::consts::PI * t)
                };
                let w = bessel_i0(beta * (1.0 - (t / mid).powi(2)).max(0.0).sqrt()) / i0b;
                sinc * w
            })
            .collect();
        // Normalise each phase to DC gain 1 (the whole filter to gain L),
        // so a constant input comes out constant at every phase.
        let mut coeffs = vec![0f32; n];
        for p in 0..l {
            let sum: f64 = (0..k).map(|j| h[p + j * l]).sum();
            for j in 0..k {
                // Phase p, tap j multiplies x[base − j]; stored reversed.
                coeffs[p * k + (k - 1 - j)] = (h[p + j * l] / sum) as f32;
            }
        }
        Resampler {
            from: from_hz,
            to: to_hz,
            l,
            m,
            k,
            coeffs,
            buf: vec![0.0; k - 1 + CHUNK],
            phase: 0,
            base: 0,
        }
    }

    /// True when [`Resampler::new`] accepts these rates: both non-zero, and
    /// the reduced ratio's terms at most 48.
    pub fn supports(from_hz: u32, to_hz: u32) -> bool {
        if from_hz == 0 || to_hz == 0 {
            return false;
        }
        let g = gcd(from_hz, to_hz);
        to_hz / g <= 48 && from_hz / g <= 48
    }

    /// The input rate in Hz.
    pub fn from_hz(&self) -> u32 {
        self.from
    }

    /// The output rate in Hz.
    pub fn to_hz(&self) -> u32 {
        self.to
    }

    /// Taps per output sample (the cost of one output; 1 when the rates
    /// are equal).
    pub fn taps(&self) -> usize {
        self.k
    }

    /// The filter's group delay in output samples (0 when the rates are
    /// equal).
    pub fn delay(&self) -> f64 {
        if self.l == 1 && self.m == 1 {
            return 0.0;
        }
        (self.k * self.l - 1) as f64 / 2.0 / self.m as f64
    }

    /// How many samples the next [`process`](Self::process) call produces
    /// for `input_len` input samples.
    pub fn output_len(&self, input_len: usize) -> usize {
        if self.l == 1 && self.m == 1 {
            return input_len;
        }
        // Outputs n with base_n < input_len, base_n = base + (phase + n·M) / L.
        if self.base >= input_len {
            return 0;
        }
        let span = (input_len - self.base) * self.l - self.phase; // > 0
        span.div_ceil(self.m)
    }

    /// Back to the initial (silent) state.
    pub fn reset(&mut self) {
        self.buf.iter_mut().for_each(|v| *v = 0.0);
        self.phase = 0;
        self.base = 0;
    }

    /// Converts `input` (continuing the previous call's signal) into `out`
    /// and returns the samples written: [`output_len`](Self::output_len)
    /// of them, exactly `input.len() × to / from` when every call's length
    /// is a multiple of `from / gcd(from, to)` (any 10 ms multiple for the
    /// telephony rates). Samples that do not fit in `out` are dropped.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        if self.l == 1 && self.m == 1 {
            let n = input.len().min(out.len());
            out[..n].copy_from_slice(&input[..n]);
            return n;
        }
        let mut written = 0;
        for chunk in input.chunks(CHUNK) {
            let at = written.min(out.len());
            written += self.process_chunk(chunk, &mut out[at..]);
        }
        written
    }

    fn process_chunk(&mut self, x: &[i16], out: &mut [i16]) -> usize {
        let k = self.k;
        let c = x.len();
        for (b, &s) in self.buf[k - 1..k - 1 + c].iter_mut().zip(x) {
            *b = s as f32;
        }
        let mut n = 0;
        while self.base < c {
            if let Some(o) = out.get_mut(n) {
                let taps = &self.coeffs[self.phase * k..(self.phase + 1) * k];
                // buf[base .. base + k] holds x[base − k + 1 ..= base].
                let v = dot(taps, &self.buf[self.base..self.base + k]);
                *o = v.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16;
                n += 1;
            }
            self.phase += self.m;
            self.base += self.phase / self.l;
            self.phase %= self.l;
        }
        self.base -= c;
        // Keep the last k − 1 samples as history.
        self.buf.copy_within(c..c + k - 1, 0);
        n
    }
}

/// Dot product with eight independent accumulators (vectorisable; the
/// summation order is fixed, so results do not depend on call boundaries).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Modified Bessel function of the first kind, order 0 (Kaiser window).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Resamples `input` from `from_hz` to `to_hz`.
pub fn resample(input: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
    if from_hz == to_hz || input.is_empty() || from_hz == 0 || to_hz == 0 {
        return input.to_vec();
    }
    let ratio = to_hz as f64 / from_hz as f64;
    // Cut-off relative to the input Nyquist, a little below the lower one.
    let cutoff = ratio.min(1.0) * 0.92;
    let half_width = (12.0 / cutoff).ceil() as i64;
    let out_len = ((input.len() as f64) * ratio).floor() as usize;
    let mut out = Vec::with_capacity(out_len);
    for i in 0..out_len {
        let t = i as f64 / ratio;
        let center = t.floor() as i64;
        let mut acc = 0.0f64;
        let mut wsum = 0.0f64;
        for j in (center - half_width + 1)..=(center + half_width) {
            if j < 0 || j as usize >= input.len() {
                continue;
            }
            let x = t - j as f64;
            let w = 0.5 + 0.5 * (std::f64::consts::PI * x / half_width as f64).cos();
            let arg = std::f64::consts::PI * x * cutoff;
            let s = if arg.abs() < 1e-12 {
                1.0
            } else {
                arg.sin() / arg
            };
            let h = cutoff * s * w;
            acc += h * input[j as usize] as f64;
            wsum += h;
        }
        // Normalise by the kernel sum so DC gain is exactly 1 at the edges too.
        let v = if wsum.abs() > 1e-9 { acc / wsum } else { 0.0 };
        out.push(v.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, f: f64, n: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin()) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn keeps_in_band_tone_removes_alias() {
        let x = sine(16000, 1000.0, 16000, 10000.0);
        let y = resample(&x, 16000, 8000);
        assert_eq!(y.len(), 8000);
        let r = rms(&y[100..7900]);
        assert!((r - 7071.0).abs() < 300.0, "rms {r}");
        // 6 kHz at 16 kHz would alias to 2 kHz at 8 kHz: must be filtered.
        let x = sine(16000, 6000.0, 16000, 10000.0);
        let y = resample(&x, 16000, 8000);
        assert!(rms(&y[100..7900]) < 300.0);
    }

    #[test]
    fn upsample_and_identity() {
        let x = sine(8000, 440.0, 800, 8000.0);
        assert_eq!(resample(&x, 8000, 8000), x);
        let y = resample(&x, 8000, 48000);
        assert_eq!(y.len(), 4800);
        let r = rms(&y[600..4200]);
        assert!((r - 5657.0).abs() < 300.0, "rms {r}");
    }
}
