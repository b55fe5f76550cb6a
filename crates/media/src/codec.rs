//! Audio codecs negotiated in SDP.
//!
//! | codec | payload type | SDP `a=rtpmap` | RTP clock | audio rate | 20 ms payload |
//! |---|---|---|---|---|---|
//! | [`Codec::Pcmu`] | 0 (static) | `PCMU/8000` | 8000 | 8000 | 160 bytes |
//! | [`Codec::Pcma`] | 8 (static) | `PCMA/8000` | 8000 | 8000 | 160 bytes |
//! | [`Codec::G722`] | 9 (static) | `G722/8000` | 8000 (sic) | 16000 | 160 bytes |
//! | [`Codec::Opus`] | dynamic (default 111) | `opus/48000/2` | 48000 | 48000 | variable |
//!
//! G.722's RTP clock is 8000 Hz although its audio is sampled at 16 kHz:
//! RFC 3551 §4.5.2 keeps an error of RFC 1890 for interoperability, so a
//! 20 ms packet advances the timestamp by 160, not 320.
//!
//! Opus (RFC 7587) has no static payload type: the offer picks one from the
//! dynamic range (96–127) and both directions use the one negotiated.
//! [`Codec::payload_type`] returns [`Codec::OPUS_DEFAULT_PT`] for it, the value
//! Switchboard offers; callers that answer someone else's offer must use the
//! number in that offer ([`Codec::is_dynamic`] says when). The rtpmap always
//! says two channels (`opus/48000/2`), even for mono streams such as ours.

/// An audio codec a leg sends and receives.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// G.711 µ-law, static payload type 0, 8 kHz.
    Pcmu,
    /// G.711 A-law, static payload type 8, 8 kHz.
    Pcma,
    /// G.722 64 kbit/s, static payload type 9, 16 kHz audio on an 8 kHz RTP
    /// clock ([`crate::g722`]).
    G722,
    /// Opus, dynamic payload type, 48 kHz RTP clock; we send mono.
    Opus,
}

impl Codec {
    /// The payload type Switchboard offers for Opus (dynamic, RFC 7587).
    pub const OPUS_DEFAULT_PT: u8 = 111;

    /// Every codec, in Switchboard's order of preference for narrowband
    /// interop (G.711 first).
    pub const ALL: [Codec; 4] = [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus];

    /// The RTP payload type: the static assignment of RFC 3551, or for a
    /// dynamic codec ([`Self::is_dynamic`]: Opus) the default we offer,
    /// [`Codec::OPUS_DEFAULT_PT`], which the SDP negotiation may override.
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
            Codec::Opus => Codec::OPUS_DEFAULT_PT,
        }
    }

    /// True when the payload type comes from SDP (`a=rtpmap`), not from the
    /// static table: then [`Self::payload_type`] is only our default.
    pub const fn is_dynamic(self) -> bool {
        matches!(self, Codec::Opus)
    }

    /// The RTP clock rate in Hz (what `a=rtpmap` says and timestamps count).
    pub const fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8000,
            Codec::Opus => 48000,
        }
    }

    /// The rate of the decoded audio in Hz (G.722: 16000, on an 8000 Hz
    /// RTP clock).
    pub const fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::G722 => 16000,
            Codec::Opus => 48000,
        }
    }

    /// RTP timestamp ticks in one 20 ms packet.
    pub const fn ticks_per_20ms(self) -> u32 {
        self.clock_rate() / 50
    }

    /// Decoded samples (mono) in one 20 ms packet.
    pub const fn samples_per_20ms(self) -> usize {
        (self.sample_rate() / 50) as usize
    }

    /// The encoding name as written in SDP `a=rtpmap` (`PCMU`, `PCMA`,
    /// `G722`, `opus`; SDP compares them case-insensitively).
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
        }
    }

    /// The channel count written after the clock rate in `a=rtpmap`, if any
    /// (`opus/48000/2`: always 2 for Opus, RFC 7587 §7).
    pub const fn rtpmap_channels(self) -> Option<u8> {
        match self {
            Codec::Opus => Some(2),
            _ => None,
        }
    }

    /// The codec of a static payload type, if we support it. Dynamic
    /// payload types (96–127) name no codec by themselves: use
    /// [`Self::from_rtpmap`].
    pub const fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            9 => Some(Codec::G722),
            _ => None,
        }
    }

    /// The codec named in an `a=rtpmap` line (`PCMU/8000`, `G722/8000`,
    /// `opus/48000/2`: name and clock rate), case-insensitive.
    pub fn from_rtpmap(name: &str, clock_rate: u32) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name) && c.clock_rate() == clock_rate)
    }

    /// True for G.711 (µ-law or A-law): one byte per sample, 8 kHz.
    pub const fn is_g711(self) -> bool {
        matches!(self, Codec::Pcmu | Codec::Pcma)
    }

    /// The byte table converting this G.711 law to the other one
    /// (µ-law ↔ A-law, same size: usable in place); `None` for any other
    /// pair.
    pub fn g711_table(self, to: Codec) -> Option<fn(u8) -> u8> {
        match (self, to) {
            (Codec::Pcmu, Codec::Pcma) => Some(crate::g711::ulaw_to_alaw),
            (Codec::Pcma, Codec::Pcmu) => Some(crate::g711::alaw_to_ulaw),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::Pcma.clock_rate(), 8000);
        assert_eq!(Codec::Pcmu.ticks_per_20ms(), 160);
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(3), None);
        assert_eq!(Codec::from_rtpmap("pcmu", 8000), Some(Codec::Pcmu));
        assert_eq!(Codec::from_rtpmap("PCMU", 16000), None);
    }

    #[test]
    fn g722_clock_quirk() {
        let c = Codec::G722;
        assert_eq!(c.payload_type(), 9);
        assert!(!c.is_dynamic() && !c.is_g711());
        assert_eq!(c.clock_rate(), 8000);
        assert_eq!(c.sample_rate(), 16000);
        assert_eq!(c.ticks_per_20ms(), 160);
        assert_eq!(c.samples_per_20ms(), 320);
        assert_eq!(Codec::from_payload_type(9), Some(Codec::G722));
        assert_eq!(Codec::from_rtpmap("g722", 8000), Some(Codec::G722));
        // The audio rate is not what SDP says.
        assert_eq!(Codec::from_rtpmap("G722", 16000), None);
    }

    #[test]
    fn opus_dynamic() {
        let c = Codec::Opus;
        assert!(c.is_dynamic());
        assert_eq!(c.payload_type(), Codec::OPUS_DEFAULT_PT);
        assert_eq!(c.clock_rate(), 48000);
        assert_eq!(c.sample_rate(), 48000);
        assert_eq!(c.ticks_per_20ms(), 960);
        assert_eq!(c.rtpmap_channels(), Some(2));
        assert_eq!(Codec::from_rtpmap("opus", 48000), Some(Codec::Opus));
        assert_eq!(Codec::from_rtpmap("OPUS", 48000), Some(Codec::Opus));
        assert_eq!(Codec::from_rtpmap("opus", 16000), None);
        // No static payload type names Opus.
        assert_eq!(Codec::from_payload_type(Codec::OPUS_DEFAULT_PT), None);
    }

    #[test]
    fn every_codec_round_trips_its_rtpmap() {
        for c in Codec::ALL {
            assert_eq!(Codec::from_rtpmap(c.name(), c.clock_rate()), Some(c));
            if !c.is_dynamic() {
                assert_eq!(Codec::from_payload_type(c.payload_type()), Some(c));
            }
            assert_eq!(c.samples_per_20ms() as u32 * 50, c.sample_rate());
        }
    }
}
