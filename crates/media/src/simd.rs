//! Hot inner loops (mixer, G.711 slice decoding), written as plain Rust
//! that LLVM vectorises, and compiled twice on x86_64: for the baseline
//! target (SSE2) and with AVX2, picked once at run time. The `unsafe` here
//! calls the AVX2 copies, after `is_x86_feature_detected!("avx2")` said
//! the CPU has AVX2, and does the unaligned loads and stores of the two
//! hand-written AVX2 mixer kernels (`minus`, `mix`), whose bounds are
//! checked before their loops.
#![allow(unsafe_code)]

/// `(frame, inputs, talkers, plan, outputs)`, see [`mix_g`].
pub(crate) type MixFn = fn(usize, &[i16], &[u32], &[Out], &mut [i16]);

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
    /// The fused N−1 mix, see [`mix_g`].
    pub mix: MixFn,
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

/// What [`mix_g`] writes to a party's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Out {
    /// `sat16(sum − own)`: the party is one of the talkers.
    Minus,
    /// `sat16(sum)`: the party is not in the sum.
    Sum,
    /// Left alone (written by the caller).
    Skip,
}

/// Samples per block of [`mix_g`]: the block's i32 sum (and its two i16
/// halves) stay in registers while every listener is written.
const BLOCK: usize = 32;

/// `sat16(s − o)` from the two i16 halves of `s`: `a = sat16(s)` and
/// `b = sat16(s − a)`, as `sat16(sat16(a − o) + b)`. Exact for every i32
/// `s` and i16 `o`: `b ≠ 0` only when `a` is pinned at the rail of `b`'s
/// sign, and then whenever `a − o` saturates (or `b` was clipped) the true
/// result lies beyond the same rail. Two saturating i16 ops per sample,
/// with no i32 work per listener.
#[inline(always)]
fn minus_split(a: i16, b: i16, o: i16) -> i16 {
    a.saturating_sub(o).saturating_add(b)
}

/// The i16 halves `(sat16(s), sat16(s − sat16(s)))` of an i32 sum.
#[inline(always)]
fn split(s: i32) -> (i16, i16) {
    let a = s.clamp(i16::MIN as i32, i16::MAX as i32);
    (
        a as i16,
        (s - a).clamp(i16::MIN as i32, i16::MAX as i32) as i16,
    )
}

/// The N−1 mix in one pass over memory. Party `p`'s input is
/// `inputs[p·frame..][..frame]` and its output `outputs[p·frame..]`;
/// `plan[p]` says what to write there. The public sum is
/// `s = Σ inputs of talkers` in i32 (any number of talkers), and a
/// listener's output `sat16(s − own)` is saturated once. Per block of
/// [`BLOCK`] samples the sum is built in registers, split into two i16
/// halves ([`split`]) and every listener written from them
/// ([`minus_split`]), so the sum never goes to memory and each input is
/// read the second time from L1.
#[inline(always)]
fn mix_g(frame: usize, inputs: &[i16], talkers: &[u32], plan: &[Out], outputs: &mut [i16]) {
    mix_g_from(0, frame, inputs, talkers, plan, outputs)
}

/// [`mix_g`] for samples `start..frame` of every frame.
#[inline(always)]
fn mix_g_from(
    start: usize,
    frame: usize,
    inputs: &[i16],
    talkers: &[u32],
    plan: &[Out],
    outputs: &mut [i16],
) {
    let n = plan.len();
    assert!(inputs.len() >= n * frame && outputs.len() >= n * frame);
    assert!(talkers.iter().all(|&t| (t as usize) < n));
    let full = start + (frame - start) / BLOCK * BLOCK;
    let mut base = start;
    while base < full {
        // A constant length here, so each loop below is vectorised whole.
        mix_block(BLOCK, base, frame, inputs, talkers, plan, outputs);
        base += BLOCK;
    }
    if base < frame {
        mix_block(frame - base, base, frame, inputs, talkers, plan, outputs);
    }
}

/// Samples `base..base + len` (`len <= BLOCK`) of [`mix_g`].
#[inline(always)]
fn mix_block(
    len: usize,
    base: usize,
    frame: usize,
    inputs: &[i16],
    talkers: &[u32],
    plan: &[Out],
    outputs: &mut [i16],
) {
    let mut acc = [0i32; BLOCK];
    let acc = &mut acc[..len];
    for &t in talkers {
        let x = &inputs[t as usize * frame + base..][..len];
        for (a, &v) in acc.iter_mut().zip(x) {
            *a += v as i32;
        }
    }
    let mut a = [0i16; BLOCK];
    let mut b = [0i16; BLOCK];
    let (a, b) = (&mut a[..len], &mut b[..len]);
    for ((a, b), &s) in a.iter_mut().zip(b.iter_mut()).zip(acc.iter()) {
        (*a, *b) = split(s);
    }
    for (p, &what) in plan.iter().enumerate() {
        let at = p * frame + base;
        match what {
            Out::Minus => {
                let own = &inputs[at..][..len];
                let out = &mut outputs[at..][..len];
                for (((o, &a), &b), &w) in out.iter_mut().zip(a.iter()).zip(b.iter()).zip(own) {
                    *o = minus_split(a, b, w);
                }
            }
            Out::Sum => outputs[at..][..len].copy_from_slice(a),
            Out::Skip => {}
        }
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
    mix: mix_g,
    ulaw: ulaw_table,
    alaw: alaw_table,
    name: "portable",
};

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Out;

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
    /// [`super::mix_g`] by hand: blocks of 64 samples (then one of 32 if
    /// that much is left; the rest by the generic code).
    #[target_feature(enable = "avx2")]
    unsafe fn mix(frame: usize, ins: &[i16], talkers: &[u32], plan: &[Out], outs: &mut [i16]) {
        let n = plan.len();
        assert!(ins.len() >= n * frame && outs.len() >= n * frame);
        assert!(talkers.iter().all(|&t| (t as usize) < n));
        let mut base = 0;
        while base + 64 <= frame {
            // SAFETY: the asserts above and base + 64 <= frame; AVX2 is
            // enabled here as well.
            unsafe { mix_block::<4>(base, frame, ins, talkers, plan, outs) };
            base += 64;
        }
        if base + 32 <= frame {
            // SAFETY: as above, with base + 32 <= frame.
            unsafe { mix_block::<2>(base, frame, ins, talkers, plan, outs) };
            base += 32;
        }
        super::mix_g_from(base, frame, ins, talkers, plan, outs)
    }

    /// Samples `base..base + 16·V` of [`mix`]: 2V i32 accumulators, the
    /// two i16 halves of the sum by `packs`, then two saturating i16 ops
    /// per 16 samples and listener.
    ///
    /// # Safety
    /// AVX2 present; `ins` and `outs` at least `plan.len()·frame` long,
    /// every talker `< plan.len()`, and `base + 16·V <= frame`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn mix_block<const V: usize>(
        base: usize,
        frame: usize,
        ins: &[i16],
        talkers: &[u32],
        plan: &[Out],
        outs: &mut [i16],
    ) {
        use std::arch::x86_64::*;
        let (lo, hi) = (_mm256_set1_epi32(-32768), _mm256_set1_epi32(32767));
        // `packs` works per 128-bit lane; the permute puts the 16 samples
        // back in order.
        let pack = |x: __m256i, y: __m256i| {
            _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(x, y))
        };
        let rest = |x: __m256i| _mm256_sub_epi32(x, _mm256_min_epi32(_mm256_max_epi32(x, lo), hi));
        let (ip, op) = (ins.as_ptr(), outs.as_mut_ptr());
        let mut s = [[_mm256_setzero_si256(); 2]; V];
        for &t in talkers {
            // SAFETY: t < plan.len() and base + 16·V <= frame (caller), so
            // the 16·V samples at t·frame + base lie inside `ins`; unaligned
            // 16-byte loads.
            unsafe {
                let p = ip.add(t as usize * frame + base);
                for (v, s) in s.iter_mut().enumerate() {
                    let x = |k: usize| _mm256_cvtepi16_epi32(_mm_loadu_si128(p.add(k).cast()));
                    s[0] = _mm256_add_epi32(s[0], x(16 * v));
                    s[1] = _mm256_add_epi32(s[1], x(16 * v + 8));
                }
            }
        }
        let a = s.map(|[x, y]| pack(x, y));
        let b = s.map(|[x, y]| pack(rest(x), rest(y)));
        for (p, &what) in plan.iter().enumerate() {
            let at = p * frame + base;
            // SAFETY: p < plan.len() and base + 16·V <= frame (caller), so
            // the samples at p·frame + base lie inside `ins` and `outs`;
            // unaligned 32-byte loads and stores. `outs` is borrowed
            // mutably, so it aliases nothing read.
            unsafe {
                match what {
                    Out::Minus => {
                        for v in 0..V {
                            let o = _mm256_loadu_si256(ip.add(at + 16 * v).cast());
                            let r = _mm256_adds_epi16(_mm256_subs_epi16(a[v], o), b[v]);
                            _mm256_storeu_si256(op.add(at + 16 * v).cast(), r);
                        }
                    }
                    Out::Sum => {
                        for (v, &a) in a.iter().enumerate() {
                            _mm256_storeu_si256(op.add(at + 16 * v).cast(), a);
                        }
                    }
                    Out::Skip => {}
                }
            }
        }
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
    fn mix_e(frame: usize, ins: &[i16], talkers: &[u32], plan: &[Out], outs: &mut [i16]) {
        unsafe { mix(frame, ins, talkers, plan, outs) }
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
        mix: mix_e,
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
    fn split_minus_is_exact() {
        // sat16(s − o) from the i16 halves of s, for sums up to 20 full-
        // scale talkers either way and own samples across the range.
        let rails = [-32768, -32767, -16385, -1, 0, 1, 16384, 32766, 32767];
        let owns = (-32768..=32767).step_by(251).chain(rails);
        let owns: Vec<i32> = owns.collect();
        let sums = (-20 * 32768..=20 * 32767).step_by(293);
        let near_rails =
            (-3 * 32768..=3 * 32768).filter(|s: &i32| !(3..32766).contains(&s.rem_euclid(32768)));
        let sums = sums.chain(near_rails);
        for s in sums {
            let (a, b) = split(s);
            for &o in &owns {
                let want = (s - o).clamp(-32768, 32767) as i16;
                assert_eq!(minus_split(a, b, o as i16), want, "s {s} o {o}");
            }
        }
    }

    /// A deterministic pseudo-random i16, loud enough to overflow sums.
    fn noise(seed: &mut u64) -> i16 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 48) as i16
    }

    #[test]
    fn mix_equals_i64_reference() {
        let mut seed = 7;
        for k in [PORTABLE, detect()] {
            for frame in [0, 1, 15, 16, 17, 31, 32, 33, 37, 63, 64, 65, 160, 961] {
                for parties in [1usize, 2, 3, 10, 17, 24] {
                    let inputs: Vec<i16> = (0..parties * frame).map(|_| noise(&mut seed)).collect();
                    // Every third party is quiet, so both loud and fitting
                    // sums occur.
                    let inputs: Vec<i16> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, &x)| {
                            if (i / frame.max(1)) % 3 == 2 {
                                x / 64
                            } else {
                                x
                            }
                        })
                        .collect();
                    let plan: Vec<Out> = (0..parties)
                        .map(|p| match (p * 7 + frame) % 5 {
                            0 => Out::Sum,
                            1 => Out::Skip,
                            _ => Out::Minus,
                        })
                        .collect();
                    let talkers: Vec<u32> = (0..parties as u32)
                        .filter(|&p| plan[p as usize] == Out::Minus)
                        .collect();
                    let mut outputs = vec![1234i16; parties * frame];
                    (k.mix)(frame, &inputs, &talkers, &plan, &mut outputs);
                    for p in 0..parties {
                        for n in 0..frame {
                            let sum: i64 = talkers
                                .iter()
                                .map(|&t| inputs[t as usize * frame + n] as i64)
                                .sum();
                            let want = match plan[p] {
                                Out::Minus => sum - inputs[p * frame + n] as i64,
                                Out::Sum => sum,
                                Out::Skip => 1234,
                            };
                            let want = want.clamp(-32768, 32767) as i16;
                            let got = outputs[p * frame + n];
                            assert_eq!(
                                got, want,
                                "{} frame {frame} parties {parties} p {p} n {n}",
                                k.name
                            );
                        }
                    }
                }
            }
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
