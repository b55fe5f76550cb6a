//! The mixer's inner loops, written as plain Rust that LLVM vectorises, and
//! compiled twice on x86_64: for the baseline target (SSE2) and with AVX2,
//! picked once at run time. The only `unsafe` here calls the AVX2 copies,
//! after `is_x86_feature_detected!("avx2")` said the CPU has AVX2.
#![allow(unsafe_code)]

/// The kernel set used by a mixer.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// `sum[n] = x[n]`
    pub first: fn(&mut [i32], &[i16]),
    /// `sum[n] += x[n]`
    pub acc: fn(&mut [i32], &[i16]),
    /// `out[n] = sat16(sum[n] - own[n])`
    pub minus: fn(&mut [i16], &[i32], &[i16]),
    /// `out[n] = sat16(sum[n])`
    pub sat: fn(&mut [i16], &[i32]),
    /// Name, for benchmarks and logs.
    pub name: &'static str,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

#[inline(always)]
fn first_g(sum: &mut [i32], x: &[i16]) {
    for (s, &v) in sum.iter_mut().zip(x) {
        *s = v as i32;
    }
}

#[inline(always)]
fn acc_g(sum: &mut [i32], x: &[i16]) {
    for (s, &v) in sum.iter_mut().zip(x) {
        *s += v as i32;
    }
}

#[inline(always)]
fn minus_g(out: &mut [i16], sum: &[i32], own: &[i16]) {
    for ((o, &s), &w) in out.iter_mut().zip(sum).zip(own) {
        *o = (s - w as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    }
}

#[inline(always)]
fn sat_g(out: &mut [i16], sum: &[i32]) {
    for (o, &s) in out.iter_mut().zip(sum) {
        *o = s.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    }
}

/// Portable kernels (SSE2 on x86_64).
pub(crate) const PORTABLE: Kernels = Kernels {
    first: first_g,
    acc: acc_g,
    minus: minus_g,
    sat: sat_g,
    name: "portable",
};

#[cfg(target_arch = "x86_64")]
mod avx2 {
    #[target_feature(enable = "avx2")]
    unsafe fn first(sum: &mut [i32], x: &[i16]) {
        super::first_g(sum, x)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn acc(sum: &mut [i32], x: &[i16]) {
        super::acc_g(sum, x)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn minus(out: &mut [i16], sum: &[i32], own: &[i16]) {
        super::minus_g(out, sum, own)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn sat(out: &mut [i16], sum: &[i32]) {
        super::sat_g(out, sum)
    }

    // SAFETY (all four below): these wrappers are reachable only through
    // `AVX2`, which `detect()` hands out only after
    // `is_x86_feature_detected!("avx2")` returned true, so the CPU executes
    // the AVX2 instructions of the callee. The callees are safe Rust
    // otherwise (bounds-checked slices).
    fn first_e(sum: &mut [i32], x: &[i16]) {
        unsafe { first(sum, x) }
    }
    fn acc_e(sum: &mut [i32], x: &[i16]) {
        unsafe { acc(sum, x) }
    }
    fn minus_e(out: &mut [i16], sum: &[i32], own: &[i16]) {
        unsafe { minus(out, sum, own) }
    }
    fn sat_e(out: &mut [i16], sum: &[i32]) {
        unsafe { sat(out, sum) }
    }

    pub(super) const AVX2: super::Kernels = super::Kernels {
        first: first_e,
        acc: acc_e,
        minus: minus_e,
        sat: sat_e,
        name: "avx2",
    };
}

/// The best kernels this CPU runs.
pub(crate) fn detect() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            return avx2::AVX2;
        }
    }
    PORTABLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree() {
        let x: Vec<i16> = (0..1000)
            .map(|i| ((i * 7919) % 65536 - 32768) as i16)
            .collect();
        let y: Vec<i16> = (0..1000)
            .map(|i| ((i * 104729) % 65536 - 32768) as i16)
            .collect();
        for k in [PORTABLE, detect()] {
            let mut sum = vec![0i32; 1000];
            (k.first)(&mut sum, &x);
            (k.acc)(&mut sum, &y);
            (k.acc)(&mut sum, &y);
            let mut out = vec![0i16; 1000];
            (k.minus)(&mut out, &sum, &x);
            for n in 0..1000 {
                let want = (2 * y[n] as i32).clamp(-32768, 32767) as i16;
                assert_eq!(out[n], want, "{} at {n}", k.name);
            }
            (k.sat)(&mut out, &sum);
            for n in 0..1000 {
                let want = (x[n] as i32 + 2 * y[n] as i32).clamp(-32768, 32767) as i16;
                assert_eq!(out[n], want);
            }
        }
    }
}
