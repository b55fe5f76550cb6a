//! The best waiting caller of every bucket, with a bit per bucket saying
//! whether there is one: an agent becoming free checks the heads of all
//! its buckets (dozens), and the bits keep that to a few cache lines when
//! most are empty.

use crate::call::CallOrd;

#[derive(Debug, Default)]
pub(crate) struct Heads {
    ords: Vec<Option<CallOrd>>,
    /// Bit `b`: `ords[b].is_some()`.
    bits: Vec<u64>,
}

impl Heads {
    pub fn clear(&mut self) {
        self.ords.clear();
        self.bits.clear();
    }

    /// Adds an empty bucket.
    pub fn push_empty(&mut self) {
        self.ords.push(None);
        self.bits.resize(self.ords.len().div_ceil(64), 0);
    }

    pub fn get(&self, b: u32) -> Option<CallOrd> {
        let b = b as usize;
        if self.bits[b / 64] & (1 << (b % 64)) == 0 {
            None
        } else {
            self.ords[b]
        }
    }

    pub fn set(&mut self, b: u32, head: Option<CallOrd>) {
        let b = b as usize;
        self.ords[b] = head;
        if head.is_some() {
            self.bits[b / 64] |= 1 << (b % 64);
        } else {
            self.bits[b / 64] &= !(1 << (b % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_heads() {
        let mut h = Heads::default();
        for _ in 0..130 {
            h.push_empty();
        }
        let ord = CallOrd {
            prio: 0,
            enter: 5,
            seq: 1,
            call: 9,
        };
        for b in [0, 63, 64, 129] {
            assert_eq!(h.get(b), None);
            h.set(b, Some(ord));
            assert_eq!(h.get(b), Some(ord));
        }
        h.set(64, None);
        assert_eq!(h.get(64), None);
        assert_eq!(h.get(63), Some(ord));
        assert_eq!(h.get(129), Some(ord));
    }
}
