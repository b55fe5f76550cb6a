//! Hot inner loops (mixer, G.711 slice decoding), written as plain Rust
//! that LLVM vectorises, and compiled twice on x86_64: for the baseline
//! target (SSE2) and with AVX2, picked once at run time. The only `unsafe`
//! here calls the AVX2 copies, after `is_x86_feature_detected!("avx2")`
//! said the CPU has AVX2.
#![allow(unsafe_code)]

/// The kernel set used by a mixer.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// `sum[n] += x[n]`
    pub acc: fn(&mut [i32], &[i16]),
    /// `sum[n] (+)= Σ_k ins[k][n]` in one pass (`true` = add to `sum`);
    /// every input at least `sum.len()` long.
    pub sum: fn(&mut [i32], &[&[i16]], bool),
    /// `out[n] = sat16(sum[n] - own[n])`
    pub minus: fn(&mut [i16], &[i32], &[i16]),
    /// `out[n] = sat16(sum[n])`; true when no sample needed saturating.
    pub sat: fn(&mut [i16], &[i32]) -> bool,
    /// `out[n] = sat16(sum16[n] - own[n])` on i16 lanes; equal to `minus`
    /// when the i32 sum fitted in i16 (then `sum16` is exact).
    pub minus16: fn(&mut [i16], &[i16], &[i16]),
    /// µ-law bytes to linear.
    pub ulaw: fn(&[u8], &mut [i16]),
    /// A-law bytes to linear.
    pub alaw: fn(&[u8], &mut [i16]),
    /// Name, for benchmarks and logs.
    pub name: &'static str,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

#[inline(always)]
fn acc_g(sum: &mut [i32], x: &[i16]) {
    for (s, &v) in sum.iter_mut().zip(x) {
        *s += v as i32;
    }
}

#[inline(always)]
fn sum_g(sum: &mut [i32], ins: &[&[i16]], add: bool) {
    // Chunks of 32 accumulators stay in registers while every input is
    // added, so the i32 sum is written once instead of once per party.
    const C: usize = 32;
    let n = sum.len();
    let full = n / C * C;
    let mut base = 0;
    while base < full {
        let mut acc = [0i32; C];
        if add {
            acc.copy_from_slice(&sum[base..base + C]);
        }
        for x in ins {
            let x = &x[base..base + C];
            for k in 0..C {
                acc[k] += x[k] as i32;
            }
        }
        sum[base..base + C].copy_from_slice(&acc);
        base += C;
    }
    for i in full..n {
        let mut a = if add { sum[i] } else { 0 };
        for x in ins {
            a += x[i] as i32;
        }
        sum[i] = a;
    }
}

#[inline(always)]
fn minus_g(out: &mut [i16], sum: &[i32], own: &[i16]) {
    for ((o, &s), &w) in out.iter_mut().zip(sum).zip(own) {
        *o = (s - w as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    }
}

#[inline(always)]
fn sat_g(out: &mut [i16], sum: &[i32]) -> bool {
    let (mut lo, mut hi) = (0i32, 0i32);
    for (o, &s) in out.iter_mut().zip(sum) {
        lo = lo.min(s);
        hi = hi.max(s);
        *o = s.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    }
    lo >= i16::MIN as i32 && hi <= i16::MAX as i32
}

#[inline(always)]
fn minus16_g(out: &mut [i16], sum16: &[i16], own: &[i16]) {
    for ((o, &s), &w) in out.iter_mut().zip(sum16).zip(own) {
        *o = s.saturating_sub(w);
    }
}

/// G.711 µ-law decoding by formula (branch-free, vectorisable with
/// per-lane shifts); equal to the table for all 256 codes.
#[inline(always)]
fn ulaw_g(input: &[u8], out: &mut [i16]) {
    for (o, &b) in out.iter_mut().zip(input) {
        let u = !b as i32;
        let t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
        let neg = (u & 0x80) != 0;
        *o = (if neg { 0x84 - t } else { t - 0x84 }) as i16;
    }
}

/// G.711 A-law decoding by formula.
#[inline(always)]
fn alaw_g(input: &[u8], out: &mut [i16]) {
    for (o, &b) in out.iter_mut().zip(input) {
        let a = (b ^ 0x55) as i32;
        let seg = (a & 0x70) >> 4;
        let m = ((a & 0x0f) << 4) + 8;
        let t = if seg == 0 {
            m
        } else {
            (m + 0x100) << (seg - 1)
        };
        *o = (if a & 0x80 != 0 { t } else { -t }) as i16;
    }
}

fn ulaw_table(input: &[u8], out: &mut [i16]) {
    for (o, &b) in out.iter_mut().zip(input) {
        *o = crate::g711::ulaw_decode(b);
    }
}

fn alaw_table(input: &[u8], out: &mut [i16]) {
    for (o, &b) in out.iter_mut().zip(input) {
        *o = crate::g711::alaw_decode(b);
    }
}

/// Portable kernels (SSE2 on x86_64; G.711 decoding by table there, since
/// SSE2 has no per-lane shifts).
pub(crate) const PORTABLE: Kernels = Kernels {
    acc: acc_g,
    sum: sum_g,
    minus: minus_g,
    sat: sat_g,
    minus16: minus16_g,
    ulaw: ulaw_table,
    alaw: alaw_table,
    name: "portable",
};

#[cfg(target_arch = "x86_64")]
mod avx2 {
    #[target_feature(enable = "avx2")]
    unsafe fn acc(sum: &mut [i32], x: &[i16]) {
        super::acc_g(sum, x)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn sum(s: &mut [i32], ins: &[&[i16]], add: bool) {
        super::sum_g(s, ins, add)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn minus(out: &mut [i16], sum: &[i32], own: &[i16]) {
        use std::arch::x86_64::*;
        let n = out.len().min(sum.len()).min(own.len());
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, and n is at most the length of each
            // slice, so every unaligned 32-byte load/store below stays in
            // bounds (16 i32 of `sum` in two loads, 16 i16 of `own` and
            // `out`). AVX2 is enabled on this function.
            unsafe {
                let s0 = _mm256_loadu_si256(sum.as_ptr().add(i).cast());
                let s1 = _mm256_loadu_si256(sum.as_ptr().add(i + 8).cast());
                let o = _mm256_loadu_si256(own.as_ptr().add(i).cast());
                let o0 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(o));
                let o1 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(o));
                // Saturating pack works per 128-bit lane; fix the order.
                let p = _mm256_packs_epi32(_mm256_sub_epi32(s0, o0), _mm256_sub_epi32(s1, o1));
                let p = _mm256_permute4x64_epi64::<0b11_01_10_00>(p);
                _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), p);
            }
            i += 16;
        }
        super::minus_g(&mut out[i..n], &sum[i..n], &own[i..n])
    }
    #[target_feature(enable = "avx2")]
    unsafe fn sat(out: &mut [i16], sum: &[i32]) -> bool {
        super::sat_g(out, sum)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn minus16(out: &mut [i16], sum16: &[i16], own: &[i16]) {
        super::minus16_g(out, sum16, own)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn ulaw(input: &[u8], out: &mut [i16]) {
        super::ulaw_g(input, out)
    }
    #[target_feature(enable = "avx2")]
    unsafe fn alaw(input: &[u8], out: &mut [i16]) {
        super::alaw_g(input, out)
    }

    // SAFETY (all seven below): these wrappers are reachable only through
    // `AVX2`, which `detect()` hands out only after
    // `is_x86_feature_detected!("avx2")` returned true, so the CPU executes
    // the AVX2 instructions of the callee. The callees are safe Rust
    // otherwise (bounds-checked slices).
    fn acc_e(sum: &mut [i32], x: &[i16]) {
        unsafe { acc(sum, x) }
    }
    fn sum_e(s: &mut [i32], ins: &[&[i16]], add: bool) {
        unsafe { sum(s, ins, add) }
    }
    fn minus_e(out: &mut [i16], sum: &[i32], own: &[i16]) {
        unsafe { minus(out, sum, own) }
    }
    fn sat_e(out: &mut [i16], sum: &[i32]) -> bool {
        unsafe { sat(out, sum) }
    }
    fn minus16_e(out: &mut [i16], sum16: &[i16], own: &[i16]) {
        unsafe { minus16(out, sum16, own) }
    }
    fn ulaw_e(input: &[u8], out: &mut [i16]) {
        unsafe { ulaw(input, out) }
    }
    fn alaw_e(input: &[u8], out: &mut [i16]) {
        unsafe { alaw(input, out) }
    }

    pub(super) const AVX2: super::Kernels = super::Kernels {
        acc: acc_e,
        sum: sum_e,
        minus: minus_e,
        sat: sat_e,
        minus16: minus16_e,
        ulaw: ulaw_e,
        alaw: alaw_e,
        name: "avx2",
    };
}

/// The kernels detected once for this process.
pub(crate) fn best() -> &'static Kernels {
    static K: std::sync::OnceLock<Kernels> = std::sync::OnceLock::new();
    K.get_or_init(detect)
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
    fn i16_fast_path_equals_i32_path_when_sum_fits() {
        let a: Vec<i16> = (0..999)
            .map(|i| ((i * 7919) % 32000 - 16000) as i16)
            .collect();
        let b: Vec<i16> = (0..999)
            .map(|i| ((i * 104729) % 32000 - 16000) as i16)
            .collect();
        let own: Vec<i16> = (0..999)
            .map(|i| ((i * 31337) % 65536 - 32768) as i16)
            .collect();
        for k in [PORTABLE, detect()] {
            let mut sum = vec![0i32; 999];
            (k.sum)(&mut sum, &[&a[..], &b[..]], false);
            let mut sum16 = vec![0i16; 999];
            assert!((k.sat)(&mut sum16, &sum));
            let (mut x, mut y) = (vec![0i16; 999], vec![0i16; 999]);
            (k.minus)(&mut x, &sum, &own);
            (k.minus16)(&mut y, &sum16, &own);
            assert_eq!(x, y, "{}", k.name);
        }
    }

    #[test]
    fn g711_formula_equals_table() {
        let all: Vec<u8> = (0..=255u8).chain(0..=255u8).chain([1, 2, 3]).collect();
        for k in [PORTABLE, detect()] {
            for len in [0, 1, 7, 160, all.len()] {
                let mut a = vec![0i16; len];
                let mut b = vec![0i16; len];
                (k.ulaw)(&all[..len], &mut a);
                ulaw_table(&all[..len], &mut b);
                assert_eq!(a, b, "{} ulaw", k.name);
                (k.alaw)(&all[..len], &mut a);
                alaw_table(&all[..len], &mut b);
                assert_eq!(a, b, "{} alaw", k.name);
                let mut c = vec![0i16; len];
                ulaw_g(&all[..len], &mut c);
                ulaw_table(&all[..len], &mut b);
                assert_eq!(c, b);
                alaw_g(&all[..len], &mut c);
                alaw_table(&all[..len], &mut b);
                assert_eq!(c, b);
            }
        }
    }

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
            (k.sum)(&mut sum, &[&x[..]], false);
            (k.acc)(&mut sum, &y);
            (k.acc)(&mut sum, &y);
            let mut sum2 = vec![0i32; 1000];
            (k.sum)(&mut sum2, &[&x[..], &y[..]], false);
            (k.sum)(&mut sum2, &[&y[..]], true);
            assert_eq!(sum, sum2);
            let mut out = vec![0i16; 1000];
            (k.minus)(&mut out, &sum, &x);
            for n in 0..1000 {
                let want = (2 * y[n] as i32).clamp(-32768, 32767) as i16;
                assert_eq!(out[n], want, "{} at {n}", k.name);
            }
            assert!(!(k.sat)(&mut out, &sum), "this sum overflows i16");
            for n in 0..1000 {
                let want = (x[n] as i32 + 2 * y[n] as i32).clamp(-32768, 32767) as i16;
                assert_eq!(out[n], want);
            }
        }
    }
}
