#!/usr/bin/env python3
"""Writes pcap/pcma-2s.pcap: 100 RTP packets of G.711 A-law (PT 8), 20 ms
apart, a 440 Hz tone; SIPp's play_pcap_audio replays its RTP payloads.
Committed output; re-run to regenerate (deterministic)."""
import math, struct

def alaw(sample):
    # ITU-T G.711 A-law encoder for a 16-bit linear sample.
    sign = 0x00 if sample < 0 else 0x80
    if sample < 0:
        sample = -sample - 1
    sample = min(sample, 32767) >> 3
    if sample >= 32:
        exp = int(math.log2(sample >> 4)) + 1 if sample >= 16 else 0
        exp = min(exp, 7)
        mant = (sample >> exp) & 0x0F
        val = (exp << 4) | mant
    else:
        val = sample >> 1
    return (val | sign) ^ 0x55

def ip_checksum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF

out = [struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
for i in range(100):
    payload = bytes(alaw(int(8000 * math.sin(2 * math.pi * 440 * (i * 160 + n) / 8000))) for n in range(160))
    rtp = struct.pack('!BBHII', 0x80, 8 | (0x80 if i == 0 else 0), i + 1, i * 160, 0x5357) + payload
    udp = struct.pack('!HHHH', 6000, 6002, 8 + len(rtp), 0) + rtp
    iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    iph = iph[:10] + struct.pack('!H', ip_checksum(iph)) + iph[12:]
    frame = b'\x00' * 12 + b'\x08\x00' + iph + udp
    ts = 1_700_000_000 * 1_000_000 + i * 20_000
    out.append(struct.pack('<IIII', ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame)
open(__file__.replace('make_pcap.py', 'pcma-2s.pcap'), 'wb').write(b''.join(out))
