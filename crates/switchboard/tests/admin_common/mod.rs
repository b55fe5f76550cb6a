//! Helpers for the admin API and wallboard tests: an HTTP/1.1 client that
//! can send headers and a body, and a carrier that leaves callers queued.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// One HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Sends one request (the server closes the connection after answering).
pub fn request(
    admin: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let mut s = TcpStream::connect_timeout(&admin, Duration::from_secs(2)).expect("connect admin");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    // A reset (the engine exiting) reads as status 0.
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).to_string();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

pub fn get(admin: SocketAddr, path: &str) -> Resp {
    request(admin, "GET", path, None, None)
}

pub fn post(admin: SocketAddr, path: &str, body: Option<&str>) -> Resp {
    request(admin, "POST", path, None, body)
}

/// A carrier leg that stays queued: it sends an INVITE and answers nothing
/// but the final response (ACK for non-2xx comes from its own code).
pub struct Caller {
    pub sock: UdpSocket,
    pub call_id: String,
    engine: SocketAddr,
    branch: String,
    tag: String,
}

impl Caller {
    /// INVITEs `number` and waits (bounded) for the 183 that means "queued".
    pub fn queue(engine: SocketAddr, number: &str) -> Caller {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let me = sock.local_addr().unwrap();
        let c = Caller {
            call_id: format!("queued-{}@127.0.0.1", rand::random::<u64>()),
            branch: format!("z9hG4bK{}", rand::random::<u64>()),
            tag: format!("c{}", rand::random::<u32>()),
            engine,
            sock,
        };
        let sdp = format!(
            "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            me.port() + 1
        );
        let invite = format!(
            "INVITE sip:{number}@{engine} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={}\r\nMax-Forwards: 70\r\nFrom: <sip:+15551234@{me}>;tag={}\r\nTo: <sip:{number}@{engine}>\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\nContact: <sip:carrier@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            c.branch,
            c.tag,
            c.call_id,
            sdp.len()
        );
        c.sock.send_to(invite.as_bytes(), engine).unwrap();
        let status = c.next_status(Duration::from_secs(5), |s| s == 183 || s >= 200);
        assert_eq!(status, Some(183), "caller {} was not queued", c.call_id);
        c
    }

    /// The next response status matching `want` (bounded wait).
    pub fn next_status(&self, within: Duration, want: impl Fn(u16) -> bool) -> Option<u16> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            let Some(status) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|c| c.parse::<u16>().ok())
            else {
                continue;
            };
            if want(status) {
                if status >= 300 {
                    self.ack(&text);
                }
                return Some(status);
            }
        }
        None
    }

    /// ACK for a non-2xx final response (same branch, RFC 3261 §17.1.1.3).
    fn ack(&self, resp: &str) {
        let me = self.sock.local_addr().unwrap();
        let to = resp
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("to:"))
            .map(|l| l[3..].trim().to_string())
            .unwrap_or_default();
        let ack = format!(
            "ACK sip:5000@{} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={}\r\nMax-Forwards: 70\r\nFrom: <sip:+15551234@{me}>;tag={}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            self.engine, self.branch, self.tag, self.call_id
        );
        let _ = self.sock.send_to(ack.as_bytes(), self.engine);
    }
}

/// Polls `f` (bounded) until it returns true.
pub fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// URL path segment encoding (Call-IDs carry `@`).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
