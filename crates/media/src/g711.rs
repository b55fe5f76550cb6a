//! G.711 µ-law and A-law, table-driven.
//!
//! All tables are built at compile time from the reference algorithm
//! (ITU-T G.711, as in the classic Sun `g711.c`): decoding is one lookup in a
//! 256-entry table, encoding one lookup in a 16 K (µ-law, 14-bit index) or
//! 8 K (A-law, 13-bit index) table, transcoding one lookup in a 256-byte
//! table.

const fn ulaw_to_linear_ref(u: u8) -> i16 {
    let u = !u;
    let mut t = (((u & 0x0f) as i32) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_to_linear_ref(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Reference µ-law encoder on the 14-bit value `pcm >> 2`.
const fn linear14_to_ulaw_ref(pcm14: i32) -> u8 {
    const SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
    let (mut v, mask) = if pcm14 < 0 {
        (-pcm14, 0x7Fu8)
    } else {
        (pcm14, 0xFFu8)
    };
    if v > 8159 {
        v = 8159;
    }
    v += 0x84 >> 2;
    let mut seg = 0;
    while seg < 8 && v > SEG_END[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let u = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0x0F);
    (u as u8) ^ mask
}

/// Reference A-law encoder on the 13-bit value `pcm >> 3`.
const fn linear13_to_alaw_ref(pcm13: i32) -> u8 {
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let (v, mask) = if pcm13 >= 0 {
        (pcm13, 0xD5u8)
    } else {
        (-pcm13 - 1, 0x55u8)
    };
    let mut seg = 0;
    while seg < 8 && v > SEG_END[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut a = (seg as i32) << 4;
    if seg < 2 {
        a |= (v >> 1) & 0x0F;
    } else {
        a |= (v >> seg) & 0x0F;
    }
    (a as u8) ^ mask
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear_ref(i as u8);
        i += 1;
    }
    t
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear_ref(i as u8);
        i += 1;
    }
    t
}

const fn build_ulaw_encode() -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        // Index is the 14-bit two's complement value of `pcm >> 2`.
        let v = if i >= 8192 {
            i as i32 - 16384
        } else {
            i as i32
        };
        t[i] = linear14_to_ulaw_ref(v);
        i += 1;
    }
    t
}

const fn build_alaw_encode() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        let v = if i >= 4096 { i as i32 - 8192 } else { i as i32 };
        t[i] = linear13_to_alaw_ref(v);
        i += 1;
    }
    t
}

const fn build_u2a() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = linear13_to_alaw_ref((ULAW_DECODE[i] as i32) >> 3);
        i += 1;
    }
    t
}

const fn build_a2u() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = linear14_to_ulaw_ref((ALAW_DECODE[i] as i32) >> 2);
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();
static ULAW_TO_ALAW: [u8; 256] = build_u2a();
static ALAW_TO_ULAW: [u8; 256] = build_a2u();

/// Decodes one µ-law byte to 16-bit linear PCM.
#[inline]
pub fn ulaw_decode(u: u8) -> i16 {
    ULAW_DECODE[u as usize]
}

/// Decodes one A-law byte to 16-bit linear PCM.
#[inline]
pub fn alaw_decode(a: u8) -> i16 {
    ALAW_DECODE[a as usize]
}

/// Encodes one 16-bit linear sample to µ-law.
#[inline]
pub fn ulaw_encode(s: i16) -> u8 {
    ULAW_ENCODE[((s >> 2) as u16 & 0x3FFF) as usize]
}

/// Encodes one 16-bit linear sample to A-law.
#[inline]
pub fn alaw_encode(s: i16) -> u8 {
    ALAW_ENCODE[((s >> 3) as u16 & 0x1FFF) as usize]
}

/// Transcodes one µ-law byte to A-law.
#[inline]
pub fn ulaw_to_alaw(u: u8) -> u8 {
    ULAW_TO_ALAW[u as usize]
}

/// Transcodes one A-law byte to µ-law.
#[inline]
pub fn alaw_to_ulaw(a: u8) -> u8 {
    ALAW_TO_ULAW[a as usize]
}

/// Decodes µ-law bytes into `out` (up to the shorter length). With AVX2 the
/// decoding is computed 8 samples at a time (identical to the table).
pub fn ulaw_decode_slice(input: &[u8], out: &mut [i16]) {
    (crate::simd::best().ulaw)(input, out)
}

/// Decodes A-law bytes into `out` (up to the shorter length), vectorised
/// like [`ulaw_decode_slice`].
pub fn alaw_decode_slice(input: &[u8], out: &mut [i16]) {
    (crate::simd::best().alaw)(input, out)
}

/// Encodes samples to µ-law into `out`.
pub fn ulaw_encode_slice(input: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(input) {
        *o = ulaw_encode(s);
    }
}

/// Encodes samples to A-law into `out`.
pub fn alaw_encode_slice(input: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(input) {
        *o = alaw_encode(s);
    }
}

/// The byte that encodes silence in µ-law.
pub const ULAW_SILENCE: u8 = 0xFF;
/// The byte that encodes silence in A-law.
pub const ALAW_SILENCE: u8 = 0xD5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn decode_encode_roundtrip_all_codes() {
        for c in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(c));
            // 0x7F is "negative zero" and encodes back as positive zero.
            if c == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "ulaw {c:#x}");
            }
            assert_eq!(alaw_encode(alaw_decode(c)), c, "alaw {c:#x}");
        }
    }

    #[test]
    fn encode_is_monotonic_and_close() {
        let mut prev_u = i32::MIN;
        let mut prev_a = i32::MIN;
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let du = ulaw_decode(ulaw_encode(s)) as i32;
            let da = alaw_decode(alaw_encode(s)) as i32;
            assert!(du >= prev_u && da >= prev_a, "monotonic at {s}");
            prev_u = du;
            prev_a = da;
            // Quantisation error is bounded by half the largest step (1024/2)
            // plus the clip region at the extremes.
            let s = s as i32;
            if s.abs() < 32000 {
                assert!((du - s).abs() <= 1024, "ulaw err at {s}: {du}");
                assert!((da - s).abs() <= 1024, "alaw err at {s}: {da}");
            }
            // Small signals keep fine resolution.
            if s.abs() < 100 {
                assert!((du - s).abs() <= 8, "ulaw small {s}->{du}");
                assert!((da - s).abs() <= 16, "alaw small {s}->{da}");
            }
        }
    }

    #[test]
    fn transcode_tables_match_decode_encode() {
        for c in 0..=255u8 {
            assert_eq!(ulaw_to_alaw(c), alaw_encode(ulaw_decode(c)));
            assert_eq!(alaw_to_ulaw(c), ulaw_encode(alaw_decode(c)));
        }
    }

    #[test]
    fn slices() {
        let pcm = [0i16, 1000, -1000, 32767];
        let mut u = [0u8; 4];
        let mut back = [0i16; 4];
        ulaw_encode_slice(&pcm, &mut u);
        ulaw_decode_slice(&u, &mut back);
        assert_eq!(back[0], 0);
        assert!((back[1] - 1000).abs() < 40);
        alaw_encode_slice(&pcm, &mut u);
        alaw_decode_slice(&u, &mut back);
        assert!((back[2] + 1000).abs() < 40);
    }
}
