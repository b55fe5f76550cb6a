//! Offline resampling of whole signals (prompts loaded from files) with a
//! Hann-windowed sinc low-pass. Not for the real-time path.

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
