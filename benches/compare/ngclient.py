"""A tiny client for rtpengine's ng control protocol (bencoded dictionaries
over UDP, each datagram "<cookie> <bencode>"), enough to set up and tear down
relayed calls for benches/compare/media. Standard library only.

    ng = NgClient(("127.0.0.1", 22222))
    ng.command("ping")                                   # {"result": "pong"}
    r = ng.command("offer", **{"call-id": "c1", "from-tag": "a", "sdp": sdp})
"""

import os
import re
import socket


def bencode(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(f"cannot bencode {type(v)}")


def bdecode(data):
    def parse(i):
        c = data[i : i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1 : end]), end + 1
        if c == b"l":
            out, i = [], i + 1
            while data[i : i + 1] != b"e":
                x, i = parse(i)
                out.append(x)
            return out, i + 1
        if c == b"d":
            out, i = {}, i + 1
            while data[i : i + 1] != b"e":
                k, i = parse(i)
                x, i = parse(i)
                out[k.decode() if isinstance(k, bytes) else k] = x
            return out, i + 1
        if c.isdigit():
            colon = data.index(b":", i)
            n = int(data[i:colon])
            s = data[colon + 1 : colon + 1 + n]
            try:
                return s.decode(), colon + 1 + n
            except UnicodeDecodeError:
                return s, colon + 1 + n
        raise ValueError(f"bad bencode at {i}")

    v, _ = parse(0)
    return v


class NgClient:
    def __init__(self, addr, timeout=5.0):
        self.addr = addr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)
        self.n = 0

    def command(self, command, **kw):
        self.n += 1
        cookie = f"{os.getpid()}_{self.n}".encode()
        msg = dict(kw, command=command)
        self.sock.sendto(cookie + b" " + bencode(msg), self.addr)
        while True:
            data, _ = self.sock.recvfrom(65536)
            c, _, body = data.partition(b" ")
            if c == cookie:
                r = bdecode(body)
                if r.get("result") == "error":
                    raise RuntimeError(f"ng {command}: {r.get('error-reason')}")
                return r


def sdp_audio(ip, port, session="bench"):
    return (
        f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns={session}\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    )


def sdp_port(sdp):
    m = re.search(r"^m=audio (\d+) ", sdp, re.M)
    if not m:
        raise ValueError(f"no audio port in SDP: {sdp!r}")
    return int(m.group(1))
