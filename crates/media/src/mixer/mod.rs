//! N−1 conference mixer with supervisor relationships. Sans-IO and
//! allocation-free per frame.
//!
//! Every party's frame is summed once in `i32` (the *public* sum); each
//! listener gets `sat16(sum − own)`, saturated once, so loud talkers never
//! clip the sum before a listener's own voice is taken out. Relationships:
//!
//! | role | heard by | hears |
//! |---|---|---|
//! | [`Role::Participant`] (caller, agent, barged-in supervisor) | everyone | everyone else |
//! | [`Role::Listen`] (silent monitoring) | nobody | everyone |
//! | [`Role::Whisper`] (coaching) | only the party it whispers to | everyone |
//!
//! Per-party gain is applied when the frame is written, so the N−1
//! subtraction removes exactly what was added.
//!
//! Everyone not whispered to is mixed in one pass over memory (the
//! `mix` kernel in `crate::simd`): per block of samples the i32 sum is
//! built in registers, split into two i16 halves `a = sat16(sum)` and
//! `b = sat16(sum − a)`, and each listener written as
//! `sat16(sat16(a − own) + b)`, which equals `sat16(sum − own)` exactly.
//! Parties whispered to take a slower path with their own i32 sum.

use crate::simd::{self as kernels, Kernels, Out};

/// A party's identifier (chosen by the caller).
pub type PartyId = u32;

/// How a party takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Heard by everyone, hears everyone else (barge is this role).
    Participant,
    /// Hears everyone, heard by nobody.
    Listen,
    /// Hears everyone, heard only by `to` (and not by the caller).
    Whisper {
        /// The party that hears the whisper (the agent).
        to: PartyId,
    },
}

#[derive(Debug)]
struct Party {
    id: PartyId,
    role: Role,
    /// Q12 gain (4096 = unity).
    gain: i32,
    has_input: bool,
}

/// The mixer for one conference.
#[derive(Debug)]
pub struct Mixer {
    frame: usize,
    parties: Vec<Party>,
    /// Party `i`'s input frame is `inputs[i·frame..][..frame]` (one block
    /// of memory, so the fused kernel walks every party without pointers).
    inputs: Vec<i16>,
    /// Party `i`'s output frame, laid out the same way.
    outputs: Vec<i16>,
    /// Per-frame plan, reused: indices of the public talkers...
    talkers: Vec<u32>,
    /// ...and what each party's output gets.
    plan: Vec<Out>,
    /// The public i32 sum and a copy plus whispers (whisper path only).
    sum: Vec<i32>,
    scratch: Vec<i32>,
    k: Kernels,
}

impl Mixer {
    /// A mixer of `frame` samples per frame (160 for 20 ms at 8 kHz, 960
    /// at 48 kHz), using the fastest kernels this CPU supports.
    pub fn new(frame: usize) -> Self {
        Mixer {
            frame,
            parties: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            talkers: Vec::new(),
            plan: Vec::new(),
            sum: vec![0; frame],
            scratch: vec![0; frame],
            k: kernels::detect(),
        }
    }

    /// The same, forcing the portable kernels (for comparison).
    pub fn new_portable(frame: usize) -> Self {
        Mixer {
            k: kernels::PORTABLE,
            ..Self::new(frame)
        }
    }

    /// Name of the kernel set in use ("avx2" or "portable").
    pub fn kernels(&self) -> &'static str {
        self.k.name
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame
    }

    fn index(&self, id: PartyId) -> Option<usize> {
        self.parties.iter().position(|p| p.id == id)
    }

    /// Adds a party (or changes its role if present).
    pub fn add_party(&mut self, id: PartyId, role: Role) {
        if let Some(i) = self.index(id) {
            self.parties[i].role = role;
            return;
        }
        self.parties.push(Party {
            id,
            role,
            gain: 4096,
            has_input: false,
        });
        let n = self.parties.len() * self.frame;
        self.inputs.resize(n, 0);
        self.outputs.resize(n, 0);
    }

    /// Removes a party.
    pub fn remove_party(&mut self, id: PartyId) {
        if let Some(i) = self.index(id) {
            self.parties.remove(i);
            let f = self.frame;
            self.inputs.drain(i * f..(i + 1) * f);
            self.outputs.drain(i * f..(i + 1) * f);
        }
    }

    /// Changes a party's role (e.g. whisper → barge).
    pub fn set_role(&mut self, id: PartyId, role: Role) {
        if let Some(p) = self.parties.iter_mut().find(|p| p.id == id) {
            p.role = role;
        }
    }

    /// Sets a party's input gain in dB (applied as its frames are written).
    pub fn set_gain_db(&mut self, id: PartyId, db: f32) {
        if let Some(p) = self.parties.iter_mut().find(|p| p.id == id) {
            p.gain = (4096.0 * 10f32.powf(db / 20.0)).round().clamp(0.0, 65536.0) as i32;
        }
    }

    /// Number of parties.
    pub fn len(&self) -> usize {
        self.parties.len()
    }

    /// True without parties.
    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    /// Writes a party's frame for this tick (shorter input is zero-padded).
    /// A party without input this tick is silent.
    pub fn set_input(&mut self, id: PartyId, samples: &[i16]) {
        let Some(i) = self.index(id) else {
            return;
        };
        let f = self.frame;
        let p = &mut self.parties[i];
        let input = &mut self.inputs[i * f..(i + 1) * f];
        let n = samples.len().min(f);
        if p.gain == 4096 {
            input[..n].copy_from_slice(&samples[..n]);
        } else {
            let g = p.gain;
            for (d, &s) in input[..n].iter_mut().zip(samples) {
                *d = ((s as i32 * g) >> 12).clamp(-32768, 32767) as i16;
            }
        }
        input[n..].iter_mut().for_each(|x| *x = 0);
        p.has_input = true;
    }

    /// The party's input frame for this tick, to decode into in place (no
    /// copy); marks the party as having input. Gain is not applied.
    pub fn input_mut(&mut self, id: PartyId) -> Option<&mut [i16]> {
        let i = self.index(id)?;
        self.parties[i].has_input = true;
        let f = self.frame;
        Some(&mut self.inputs[i * f..(i + 1) * f])
    }

    /// The party's mixed output of the last [`Mixer::mix`].
    pub fn output(&self, id: PartyId) -> Option<&[i16]> {
        let i = self.index(id)?;
        Some(&self.outputs[i * self.frame..(i + 1) * self.frame])
    }

    fn talks(p: &Party) -> bool {
        p.role == Role::Participant && p.has_input
    }

    fn whispers_to(w: &Party, id: PartyId) -> bool {
        w.has_input && w.id != id && w.role == (Role::Whisper { to: id })
    }

    /// Mixes one frame: every party's output is what it should hear.
    /// Inputs are consumed (a party that gets no new input is silent next
    /// frame).
    pub fn mix(&mut self) {
        let k = self.k;
        let f = self.frame;
        let has_whisper = self
            .parties
            .iter()
            .any(|p| matches!(p.role, Role::Whisper { .. }) && p.has_input);
        self.talkers.clear();
        self.plan.clear();
        let mut whispered = 0;
        for (i, p) in self.parties.iter().enumerate() {
            if Self::talks(p) {
                self.talkers.push(i as u32);
            }
            let out = if has_whisper && self.parties.iter().any(|w| Self::whispers_to(w, p.id)) {
                whispered += 1;
                Out::Skip
            } else if Self::talks(p) {
                Out::Minus
            } else {
                Out::Sum
            };
            self.plan.push(out);
        }
        // Everyone not whispered to, in one pass: the public i32 sum is
        // built per block in registers and each listener gets
        // `sat16(sum − own)`, saturated once.
        (k.mix)(
            f,
            &self.inputs,
            &self.talkers,
            &self.plan,
            &mut self.outputs,
        );
        if whispered > 0 {
            self.mix_whispered();
        }
        for p in &mut self.parties {
            p.has_input = false;
        }
    }

    /// Rare path: the public sum plus whispers to each whispered party.
    fn mix_whispered(&mut self) {
        let k = self.k;
        let f = self.frame;
        // Public sum, in one pass per group of up to 16 talkers.
        let mut group: [&[i16]; 16] = [&[]; 16];
        let mut g = 0;
        let mut add = false;
        for &t in &self.talkers {
            let t = t as usize;
            group[g] = &self.inputs[t * f..(t + 1) * f];
            g += 1;
            if g == group.len() {
                (k.sum)(&mut self.sum, &group, add);
                add = true;
                g = 0;
            }
        }
        if g > 0 || !add {
            (k.sum)(&mut self.sum, &group[..g], add);
        }
        for (i, p) in self.parties.iter().enumerate() {
            if self.plan[i] != Out::Skip {
                continue;
            }
            self.scratch.copy_from_slice(&self.sum);
            for (j, w) in self.parties.iter().enumerate() {
                if Self::whispers_to(w, p.id) {
                    (k.acc)(&mut self.scratch, &self.inputs[j * f..(j + 1) * f]);
                }
            }
            let out = &mut self.outputs[i * f..(i + 1) * f];
            if Self::talks(p) {
                (k.minus)(out, &self.scratch, &self.inputs[i * f..(i + 1) * f]);
            } else {
                (k.sat)(out, &self.scratch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixer(parties: &[(PartyId, Role)]) -> Mixer {
        let mut m = Mixer::new(4);
        for &(id, r) in parties {
            m.add_party(id, r);
        }
        m
    }

    #[test]
    fn n_minus_one() {
        let mut m = mixer(&[
            (1, Role::Participant),
            (2, Role::Participant),
            (3, Role::Participant),
        ]);
        m.set_input(1, &[100; 4]);
        m.set_input(2, &[20; 4]);
        m.set_input(3, &[3; 4]);
        m.mix();
        assert_eq!(m.output(1).unwrap(), &[23; 4]);
        assert_eq!(m.output(2).unwrap(), &[103; 4]);
        assert_eq!(m.output(3).unwrap(), &[120; 4]);
        // Next frame without input: silence.
        m.mix();
        assert_eq!(m.output(1).unwrap(), &[0; 4]);
    }

    #[test]
    fn saturates_once_after_subtracting_own() {
        // Two loud talkers whose sum overflows i16: each must still hear
        // the other exactly, and a third party hears the clipped sum.
        let mut m = mixer(&[
            (1, Role::Participant),
            (2, Role::Participant),
            (3, Role::Participant),
        ]);
        m.set_input(1, &[30000; 4]);
        m.set_input(2, &[25000; 4]);
        m.set_input(3, &[-5; 4]);
        m.mix();
        assert_eq!(m.output(1).unwrap(), &[24995; 4]);
        assert_eq!(m.output(2).unwrap(), &[29995; 4]);
        assert_eq!(m.output(3).unwrap(), &[32767; 4]);
        m.set_input(1, &[-30000; 4]);
        m.set_input(2, &[-25000; 4]);
        m.mix();
        assert_eq!(m.output(3).unwrap(), &[-32768; 4]);
    }

    #[test]
    fn fast_path_saturates_exactly() {
        // The sum fits in i16 (32000) but a listener's N-1 does not
        // (32000 - (-5000) = 37000): it must saturate to 32767, not wrap.
        let mut m = mixer(&[
            (1, Role::Participant),
            (2, Role::Participant),
            (3, Role::Participant),
        ]);
        m.set_input(1, &[-5000; 4]);
        m.set_input(2, &[20000; 4]);
        m.set_input(3, &[17000; 4]);
        m.mix();
        assert_eq!(m.output(1).unwrap(), &[32767; 4]);
        assert_eq!(m.output(2).unwrap(), &[12000; 4]);
        assert_eq!(m.output(3).unwrap(), &[15000; 4]);
    }

    #[test]
    fn listen_whisper_barge() {
        // caller 1, agent 2, supervisor 3.
        let mut m = mixer(&[
            (1, Role::Participant),
            (2, Role::Participant),
            (3, Role::Listen),
        ]);
        let feed = |m: &mut Mixer| {
            m.set_input(1, &[1; 4]);
            m.set_input(2, &[10; 4]);
            m.set_input(3, &[100; 4]);
            m.mix();
            (
                m.output(1).unwrap()[0],
                m.output(2).unwrap()[0],
                m.output(3).unwrap()[0],
            )
        };
        // Listen: supervisor hears both, nobody hears the supervisor.
        assert_eq!(feed(&mut m), (10, 1, 11));
        // Whisper to the agent: only the agent hears the supervisor.
        m.set_role(3, Role::Whisper { to: 2 });
        assert_eq!(feed(&mut m), (10, 101, 11));
        // Barge: everyone hears everyone.
        m.set_role(3, Role::Participant);
        assert_eq!(feed(&mut m), (110, 101, 11));
        m.remove_party(3);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn gain_and_padding() {
        let mut m = mixer(&[(1, Role::Participant), (2, Role::Participant)]);
        m.set_gain_db(1, -6.0206);
        m.set_input(1, &[1000, 1000]);
        m.set_input(2, &[0; 4]);
        m.mix();
        assert_eq!(m.output(2).unwrap(), &[500, 500, 0, 0]);
    }

    #[test]
    fn portable_and_detected_agree_on_large_frames() {
        let mut a = Mixer::new(960);
        let mut b = Mixer::new_portable(960);
        for id in 0..10 {
            a.add_party(id, Role::Participant);
            b.add_party(id, Role::Participant);
        }
        for id in 0..10u32 {
            let x: Vec<i16> = (0..960i32)
                .map(|n| ((n * 37 * (id as i32 + 1)) % 60000 - 30000) as i16)
                .collect();
            a.set_input(id, &x);
            b.set_input(id, &x);
        }
        a.mix();
        b.mix();
        for id in 0..10 {
            assert_eq!(a.output(id), b.output(id));
        }
    }
}
