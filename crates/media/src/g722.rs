//! G.722 wideband audio at 64 kbit/s (ITU-T G.722, sub-band ADPCM).
//!
//! 16 kHz, 16-bit linear PCM in and out; one byte per two input samples
//! (320 samples ↔ 160 bytes per 20 ms). The block numbers in the comments
//! are those of the ITU-T recommendation:
//!
//! - a 24-tap quadrature mirror filter (QMF) splits the signal into a lower
//!   and a higher sub-band at 8 kHz each (and joins them in the decoder);
//! - the lower band is coded with 6-bit ADPCM (blocks 1L–3L, 5L, 6L): a
//!   60-level adaptive quantiser, of which only the embedded 4-bit core feeds
//!   the predictor and scale-factor adaptation;
//! - the higher band with 2-bit ADPCM (blocks 1H–3H, 5H, 6H);
//! - each band predicts its signal with a pole–zero predictor (two poles,
//!   six zeros) adapted by sign-sign gradients (block 4).
//!
//! All arithmetic is the recommendation's fixed point, so the output is
//! bit-exact with other conforming implementations (tested against spandsp
//! in `tests/g722.rs`). The coder runs the QMF on every sample; the ITU
//! test sequences, which bypass the QMF, are not used.
//!
//! RTP (RFC 3551 §4.5.2): payload type 9, and the RTP clock is 8000 Hz
//! although the audio is sampled at 16 kHz — a historical error kept for
//! interoperability. Each octet carries the 2-bit higher-band code in its
//! two most significant bits and the 6-bit lower-band code below.
//!
//! ```
//! use media::g722::{G722Decoder, G722Encoder};
//! let pcm = [0i16; 320]; // 20 ms at 16 kHz
//! let mut enc = G722Encoder::new();
//! let mut dec = G722Decoder::new();
//! let mut payload = [0u8; 160];
//! assert_eq!(enc.encode(&pcm, &mut payload), 160);
//! let mut out = [0i16; 320];
//! assert_eq!(dec.decode(&payload, &mut out), 320);
//! ```

/// QMF coefficients h(2i), i = 0..12 (the odd ones are the same reversed:
/// h(2i+1) = h(22−2i)). They sum to 4096 each, 8192 in all.
const QMF_EVEN: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/// Lower-band quantiser decision levels (block 1L, QUANTL), scaled by 2^-12
/// of the scale factor. Index = magnitude interval `mil`.
const Q6: [i32; 31] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0,
];
/// 6-bit codes of the negative intervals, by `mil`.
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
/// 6-bit codes of the positive intervals, by `mil`.
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// Output levels of the 4-bit core quantiser (block 2L/5L INVQAL), by the
/// 6-bit code's top four bits.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// Output levels of the full 6-bit quantiser (block 5L INVQBL, 64 kbit/s
/// mode). Codes 0–3 are never sent; they decode as the smallest level.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// Magnitude class of a 4-bit code (block 3L LOGSCL) and its log-scale
/// factor multiplier.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// Higher-band output levels (block 2H/5H INVQAH) by 2-bit code.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// 2-bit codes for the negative / positive intervals, by `mih` (1 or 2).
const IHN: [u8; 3] = [0, 1, 0];
const IHP: [u8; 3] = [0, 3, 2];
/// Magnitude class of a 2-bit code and its log-scale factor multiplier.
const RH2: [usize; 4] = [2, 1, 2, 1];
const WH: [i32; 3] = [0, -214, 798];

/// Anti-log table (blocks 3L SCALEL, 3H SCALEH): 2^(i/32) scaled by 2048.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Clamps to the 16-bit range, as the recommendation's adders do.
#[inline(always)]
fn sat(v: i32) -> i32 {
    v.clamp(i16::MIN as i32, i16::MAX as i32)
}

/// The sign bit of a 16-bit quantity (0 for zero and positive, −1 for
/// negative), as the predictor adaptation compares it.
#[inline(always)]
fn sgn(v: i32) -> i32 {
    v >> 15
}

/// One sub-band's ADPCM state: scale factor and pole–zero predictor.
#[derive(Clone, Copy, Debug)]
struct Band {
    /// Predicted signal s (SL/SH).
    s: i32,
    /// Pole-section contribution (SPL/SPH).
    sp: i32,
    /// Zero-section contribution (SZL/SZH).
    sz: i32,
    /// Reconstructed signal r(n), r(n−1), r(n−2).
    r: [i32; 3],
    /// Pole coefficients a1, a2 (index 0 unused).
    a: [i32; 3],
    /// Partial reconstructed signal p(n), p(n−1), p(n−2).
    p: [i32; 3],
    /// Quantised differences d(n) .. d(n−6).
    d: [i32; 7],
    /// Zero coefficients b1..b6 (index 0 unused).
    b: [i32; 7],
    /// Log scale factor (NBL/NBH).
    nb: i32,
    /// Scale factor (DETL/DETH).
    det: i32,
}

impl Band {
    const fn new(det: i32) -> Band {
        Band {
            s: 0,
            sp: 0,
            sz: 0,
            r: [0; 3],
            a: [0; 3],
            p: [0; 3],
            d: [0; 7],
            b: [0; 7],
            nb: 0,
            det,
        }
    }

    /// Blocks 3L LOGSCL + SCALEL (`lower`) or 3H LOGSCH + SCALEH: adapts
    /// the log scale factor by `w` and recomputes the scale factor.
    #[inline(always)]
    fn adapt_scale(&mut self, w: i32, lower: bool) {
        let (max, bias) = if lower { (18432, 8) } else { (22528, 10) };
        self.nb = (((self.nb * 127) >> 7) + w).clamp(0, max);
        let mant = ILB[((self.nb >> 6) & 31) as usize];
        let shift = bias - (self.nb >> 11);
        let wd3 = if shift < 0 {
            mant << -shift
        } else {
            mant >> shift
        };
        self.det = wd3 << 2;
    }

    /// Block 4: reconstruction, predictor adaptation and prediction for the
    /// next sample, from the quantised difference `d`.
    #[inline(always)]
    fn block4(&mut self, d: i32) {
        // RECONS, PARREC
        self.d[0] = d;
        self.r[0] = sat(self.s + d);
        self.p[0] = sat(self.sz + d);

        // UPPOL2: second pole coefficient.
        let sg0 = sgn(self.p[0]);
        let sg1 = sgn(self.p[1]);
        let sg2 = sgn(self.p[2]);
        let wd1 = sat(self.a[1] << 2);
        let wd2 = if sg0 == sg1 { -wd1 } else { wd1 }.min(32767);
        let mut wd3 = if sg0 == sg2 { 128 } else { -128 };
        wd3 += wd2 >> 7;
        wd3 += (self.a[2] * 32512) >> 15;
        let ap2 = wd3.clamp(-12288, 12288);

        // UPPOL1: first pole coefficient, limited by the second.
        let wd1 = if sg0 == sg1 { 192 } else { -192 };
        let wd2 = (self.a[1] * 32640) >> 15;
        let lim = sat(15360 - ap2);
        let ap1 = sat(wd1 + wd2).clamp(-lim, lim);

        // UPZERO: six zero coefficients.
        let step = if d == 0 { 0 } else { 128 };
        let sgd = sgn(d);
        for i in 1..7 {
            let wd2 = if sgn(self.d[i]) == sgd { step } else { -step };
            let wd3 = (self.b[i] * 32640) >> 15;
            self.b[i] = sat(wd2 + wd3);
        }

        // DELAYA
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
        }
        self.r[2] = self.r[1];
        self.r[1] = self.r[0];
        self.p[2] = self.p[1];
        self.p[1] = self.p[0];
        self.a[1] = ap1;
        self.a[2] = ap2;

        // FILTEP: pole section.
        let wd1 = (self.a[1] * sat(self.r[1] + self.r[1])) >> 15;
        let wd2 = (self.a[2] * sat(self.r[2] + self.r[2])) >> 15;
        self.sp = sat(wd1 + wd2);

        // FILTEZ: zero section.
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat(sz);

        // PREDIC
        self.s = sat(self.sp + self.sz);
    }
}

/// Initial scale factors: DETL = 32, DETH = 8 (the minimum of each).
const DET_LOW0: i32 = 32;
const DET_HIGH0: i32 = 8;

/// A G.722 64 kbit/s encoder for one stream (keeps QMF and ADPCM state
/// across calls; no allocation).
#[derive(Clone, Debug)]
pub struct G722Encoder {
    /// QMF input history, oldest first; x[23] is the newest sample.
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// A fresh encoder (the reset state of the recommendation).
    pub const fn new() -> G722Encoder {
        G722Encoder {
            x: [0; 24],
            low: Band::new(DET_LOW0),
            high: Band::new(DET_HIGH0),
        }
    }

    /// Encodes pairs of 16 kHz samples from `pcm` into `out`, one byte per
    /// pair, as many as both hold; returns the bytes written. An odd last
    /// sample is ignored (feed even lengths: 20 ms is 320 samples).
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        let mut n = 0;
        for (o, pair) in out.iter_mut().zip(pcm.chunks_exact(2)) {
            *o = self.encode_pair(pair[0], pair[1]);
            n += 1;
        }
        n
    }

    /// Encodes two consecutive samples into one G.722 octet.
    #[inline]
    pub fn encode_pair(&mut self, first: i16, second: i16) -> u8 {
        // Transmit QMF.
        self.x.copy_within(2.., 0);
        self.x[22] = first as i32;
        self.x[23] = second as i32;
        let mut xa = 0; // Σ h(2i)·x(j−2i): the odd positions, newest first
        let mut xb = 0; // Σ h(2i+1)·x(j−2i−1): the even positions
        for i in 0..12 {
            xa += self.x[2 * i + 1] * QMF_EVEN[11 - i];
            xb += self.x[2 * i] * QMF_EVEN[i];
        }
        let xl = (xa + xb) >> 14;
        let xh = (xa - xb) >> 14;

        // Lower band. Block 1L: SUBTL, QUANTL.
        let el = sat(xl - self.low.s);
        let wd = if el >= 0 { el } else { -(el + 1) };
        let mut mil = 1;
        while mil < 30 && wd >= (Q6[mil] * self.low.det) >> 12 {
            mil += 1;
        }
        let il = if el < 0 { ILN[mil] } else { ILP[mil] };
        // Block 2L: INVQAL on the 4-bit core.
        let ril = (il >> 2) as usize;
        let dlt = (self.low.det * QM4[ril]) >> 15;
        // Block 3L, then block 4L.
        self.low.adapt_scale(WL[RL42[ril]], true);
        self.low.block4(dlt);

        // Higher band. Block 1H: SUBTH, QUANTH.
        let eh = sat(xh - self.high.s);
        let wd = if eh >= 0 { eh } else { -(eh + 1) };
        let mih = if wd >= (564 * self.high.det) >> 12 {
            2
        } else {
            1
        };
        let ih = if eh < 0 { IHN[mih] } else { IHP[mih] };
        // Block 2H: INVQAH; block 3H; block 4H.
        let dh = (self.high.det * QM2[ih as usize]) >> 15;
        self.high.adapt_scale(WH[RH2[ih as usize]], false);
        self.high.block4(dh);

        (ih << 6) | il
    }
}

/// A G.722 64 kbit/s decoder for one stream. Every byte sequence is valid
/// input.
#[derive(Clone, Debug)]
pub struct G722Decoder {
    /// Receive QMF history of (xd, xs) pairs, oldest first.
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A fresh decoder (the reset state of the recommendation).
    pub const fn new() -> G722Decoder {
        G722Decoder {
            x: [0; 24],
            low: Band::new(DET_LOW0),
            high: Band::new(DET_HIGH0),
        }
    }

    /// Decodes `code` into 16 kHz samples in `out`, two per byte, as many
    /// bytes as `out` has room for; returns the samples written.
    pub fn decode(&mut self, code: &[u8], out: &mut [i16]) -> usize {
        let mut n = 0;
        for (pair, &c) in out.chunks_exact_mut(2).zip(code) {
            let [a, b] = self.decode_byte(c);
            pair[0] = a;
            pair[1] = b;
            n += 2;
        }
        n
    }

    /// Decodes one octet into two consecutive samples.
    #[inline]
    pub fn decode_byte(&mut self, code: u8) -> [i16; 2] {
        let [a, b] = self.decode_byte_wide(code);
        [sat(a) as i16, sat(b) as i16]
    }

    /// [`decode_byte`](Self::decode_byte) before the final limiter: the
    /// receive QMF's output, which can exceed 16 bits for over-driven or
    /// arbitrary input. For tests against implementations that wrap there.
    #[doc(hidden)]
    #[inline]
    pub fn decode_byte_wide(&mut self, code: u8) -> [i32; 2] {
        // Lower band. Block 5L: INVQBL (6-bit output level), RECONS, LIMIT.
        let ilr = (code & 0x3F) as usize;
        let ril = ilr >> 2;
        let rl = (self.low.s + ((self.low.det * QM6[ilr]) >> 15)).clamp(-16384, 16383);
        // Block 2L (4-bit core, for adaptation), 3L, 4L.
        let dlt = (self.low.det * QM4[ril]) >> 15;
        self.low.adapt_scale(WL[RL42[ril]], true);
        self.low.block4(dlt);

        // Higher band. Blocks 2H/5H, RECONS, LIMIT, 3H, 4H.
        let ih = (code >> 6) as usize;
        let dh = (self.high.det * QM2[ih]) >> 15;
        let rh = (self.high.s + dh).clamp(-16384, 16383);
        self.high.adapt_scale(WH[RH2[ih]], false);
        self.high.block4(dh);

        // Receive QMF.
        self.x.copy_within(2.., 0);
        self.x[22] = rl + rh; // xs
        self.x[23] = rl - rh; // xd
        let mut x1 = 0; // 2·Σ h(2i)·xd(j−i)
        let mut x2 = 0; // 2·Σ h(2i+1)·xs(j−i)
        for i in 0..12 {
            x1 += self.x[2 * i + 1] * QMF_EVEN[11 - i];
            x2 += self.x[2 * i] * QMF_EVEN[i];
        }
        [x1 >> 11, x2 >> 11]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snr_db(a: &[i16], b: &[i16]) -> f64 {
        let sig: f64 = a.iter().map(|&v| (v as f64).powi(2)).sum();
        let err: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum();
        10.0 * (sig / err.max(1e-9)).log10()
    }

    #[test]
    fn silence_stays_silent() {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut code = [0u8; 160];
        let mut out = [1i16; 320];
        for _ in 0..10 {
            assert_eq!(enc.encode(&[0; 320], &mut code), 160);
            assert_eq!(dec.decode(&code, &mut out), 320);
            // The 6-bit quantiser has no zero level: idle noise of a few LSB.
            assert!(out.iter().all(|&s| s.abs() <= 4), "{out:?}");
        }
    }

    #[test]
    fn tone_round_trip() {
        // 1 kHz and 5 kHz (higher band) tones; the codec delay is 22
        // samples (the two 24-tap QMFs).
        for f in [1000.0, 5000.0] {
            let pcm: Vec<i16> = (0..16000)
                .map(|i| {
                    (8000.0 * (2.0 * std::f64::consts::PI * f * i as f64 / 16000.0).sin()) as i16
                })
                .collect();
            let mut code = vec![0u8; 8000];
            let mut out = vec![0i16; 16000];
            G722Encoder::new().encode(&pcm, &mut code);
            G722Decoder::new().decode(&code, &mut out);
            let snr = snr_db(&pcm[1000..15000], &out[1022..15022]);
            assert!(snr > 20.0, "{f} Hz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn odd_lengths_and_short_buffers() {
        let mut enc = G722Encoder::new();
        let mut out = [0u8; 4];
        assert_eq!(enc.encode(&[1, 2, 3], &mut out), 1);
        assert_eq!(enc.encode(&[0; 20], &mut out), 4);
        let mut dec = G722Decoder::new();
        let mut pcm = [0i16; 5];
        assert_eq!(dec.decode(&[0xFF; 8], &mut pcm), 4);
    }
}
