//! Test harness: starts the real `switchboard` binary on loopback with a
//! config written for the test, runs SIPp scenarios from
//! `tests/sip-scenarios/` against it, and reads its CDRs.
#![allow(dead_code)]

pub mod ua;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Hands each test its own block of 200 loopback ports (engine SIP and
/// admin, SIPp phones, RTP range), so tests run in parallel without
/// colliding. Blocks start at a per-process offset and are probed: a block
/// whose SIP, admin, TLS (base + 2) or first RTP port is taken is skipped.
pub fn port_block() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const BLOCKS: u16 = 200; // 20,000 .. 60,000
    let start = (std::process::id() % BLOCKS as u32) as u16;
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let base = 20_000 + ((start + n * 7) % BLOCKS) * 200;
        let free = UdpSocket::bind(("127.0.0.1", base)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", base + 1)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", base + 2)).is_ok()
            && UdpSocket::bind(("127.0.0.1", base + 100)).is_ok();
        if free {
            return base;
        }
    }
}

pub fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sip-scenarios")
}

pub fn require_sipp() {
    let ok = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "sipp is missing: run the test command from the README (it installs sip-tester)"
    );
}

pub struct Engine {
    child: Child,
    pub dir: PathBuf,
    pub sip: SocketAddr,
    pub admin: SocketAddr,
    pub base: u16,
}

/// The agents and queue every test config has; tests append what they need.
pub fn config(base: u16, extra: &str) -> String {
    format!(
        r#"
[sip]
listen = ["udp:127.0.0.1:{sip}"]
t1 = "100ms"

[media]
ip = "127.0.0.1"
rtp_ports = [{rtp_lo}, {rtp_hi}]
rtp_timeout = "30s"

[admin]
listen = "127.0.0.1:{admin}"

[auth]
max_failures = 3

[cdr]
path = "cdr.jsonl"

[[agent]]
id = "1001"
password = "pw1001"
skills = {{ english = 5 }}

[[agent]]
id = "1002"
password = "pw1002"
skills = {{ english = 3 }}

[[route]]
to = "5000"
queue = "support"
{extra}
"#,
        sip = base,
        admin = base + 1,
        rtp_lo = base + 100,
        rtp_hi = base + 199,
    )
}

pub const DEFAULT_TRUNK_AND_QUEUE: &str = r#"
[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]

[[queue]]
name = "support"
require = { english = 1 }
ring_timeout = "2s"
wrap_up = "1s"
"#;

impl Engine {
    pub fn start(name: &str, base: u16, toml: &str) -> Engine {
        Engine::start_with(name, base, toml, &[])
    }

    /// Starts the engine with extra command-line arguments (e.g. `--log-json`).
    pub fn start_with(name: &str, base: u16, toml: &str, args: &[&str]) -> Engine {
        let dir = std::env::temp_dir().join(format!("switchboard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("switchboard.toml"), toml).unwrap();
        let log = std::fs::File::create(dir.join("engine.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("--config")
            .arg(dir.join("switchboard.toml"))
            .args(args)
            .current_dir(&dir)
            .env(
                "RUST_LOG",
                std::env::var("SWITCHBOARD_TEST_LOG").unwrap_or_else(|_| "debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start switchboard");
        let engine = Engine {
            child,
            dir,
            sip: SocketAddr::from(([127, 0, 0, 1], base)),
            admin: SocketAddr::from(([127, 0, 0, 1], base + 1)),
            base,
        };
        for _ in 0..200 {
            if engine
                .http("GET", "/healthz")
                .map(|(s, _)| s == 200)
                .unwrap_or(false)
            {
                return engine;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("engine did not come up; log:\n{}", engine.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("engine.log")).unwrap_or_default()
    }

    /// One HTTP/1.1 request to the admin server: (status, body).
    pub fn http(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.admin, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    pub fn status(&self) -> serde_json::Value {
        let (_, body) = self.http("GET", "/api/v1/status").expect("status");
        serde_json::from_str(&body).expect("status JSON")
    }

    /// CDR lines written so far.
    pub fn cdrs(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("cdr.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("CDR line is JSON"))
            .collect()
    }

    /// Waits (bounded) until `n` CDRs exist.
    pub fn wait_cdrs(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.cdrs();
            if c.len() >= n || Instant::now() > deadline {
                return c;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (bounded) until the engine reports this many registrations.
    pub fn wait_registered(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.status()["registrations"].as_object().map(|m| m.len()) == Some(n) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("expected {n} registrations; status: {}", self.status());
    }

    pub fn sipp(&self, scenario: &str) -> Sipp {
        Sipp::new(self, scenario)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`"HUP"`, `"TERM"`) to the engine.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Rewrites the config file (for reload tests).
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.dir.join("switchboard.toml"), toml).unwrap();
    }

    /// Waits (bounded) for the engine process to exit; true when it exited 0.
    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Polls (bounded) until `f(status)` holds.
    pub fn wait_until(&self, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.status();
            if f(&s) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then wait (bounded) for exit; returns the exit status success.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SIPp run against the engine.
pub struct Sipp {
    cmd: Command,
    name: String,
    dir: PathBuf,
}

impl Sipp {
    fn new(engine: &Engine, scenario: &str) -> Sipp {
        let mut cmd = Command::new("sipp");
        cmd.current_dir(scenarios())
            .arg(format!("127.0.0.1:{}", engine.sip.port()))
            .arg("-sf")
            .arg(scenarios().join(scenario))
            .args([
                "-i",
                "127.0.0.1",
                "-m",
                "1",
                "-timeout",
                "40s",
                "-timeout_error",
                "-nostdin",
            ])
            .args(["-trace_err", "-error_file"])
            .arg(engine.dir.join(format!("{scenario}.err")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        Sipp {
            cmd,
            name: scenario.to_string(),
            dir: engine.dir.clone(),
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Sipp {
        self.cmd.args(args);
        self
    }

    pub fn spawn(mut self) -> RunningSipp {
        let child = self.cmd.spawn().expect("start sipp");
        RunningSipp {
            child,
            name: self.name,
            dir: self.dir,
        }
    }

    /// Runs to completion; panics with SIPp's error log if a call failed.
    pub fn run(self) {
        self.spawn().wait_ok();
    }
}

pub struct RunningSipp {
    child: Child,
    name: String,
    dir: PathBuf,
}

impl RunningSipp {
    pub fn wait(mut self) -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    let mut err = String::new();
                    if let Some(mut e) = self.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    let log = std::fs::read_to_string(self.dir.join(format!("{}.err", self.name)))
                        .unwrap_or_default();
                    return (st.success(), format!("{err}\n{log}"));
                }
                _ if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    return (false, format!("{} did not finish", self.name));
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    pub fn wait_ok(self) {
        let name = self.name.clone();
        let (ok, log) = self.wait();
        assert!(ok, "sipp {name} failed:\n{log}");
    }
}

impl Drop for RunningSipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SIPp carrier calling 5000 from this test's carrier ports
/// (`-p base+40`, media `base+50`).
pub fn carrier(engine: &Engine, scenario: &str) -> Sipp {
    let (p, mp) = (
        (engine.base + 40).to_string(),
        (engine.base + 50).to_string(),
    );
    engine
        .sipp(scenario)
        .args(["-s", "5000", "-p", &p, "-mp", &mp])
}

/// Registers `agent` with SIPp, its phone (agent-*.xml) listening on `port`.
pub fn register(engine: &Engine, agent: &str, password: &str, port: u16) {
    engine
        .sipp("agent-register.xml")
        .args(["-au", agent, "-ap", password, "-set", "user", agent])
        .args([
            "-set",
            "contact_port",
            &port.to_string(),
            "-set",
            "expires",
            "3600",
        ])
        .args(["-p", &(port + 1).to_string()])
        .run();
}

/// Starts an agent phone scenario (UAS) on `port`, media on `port + 10`.
pub fn phone(engine: &Engine, scenario: &str, port: u16, extra: &[&str]) -> RunningSipp {
    engine
        .sipp(scenario)
        .args(["-p", &port.to_string(), "-mp", &(port + 10).to_string()])
        .args(extra)
        .spawn()
}

/// An out-of-dialog OPTIONS (answered to the sender: `rport`).
pub const OPTIONS: &str = "OPTIONS sip:switchboard@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-opt-1;rport\r\n\
From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:switchboard@127.0.0.1>\r\n\
Call-ID: options-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

/// A raw UDP exchange: send `data`, return the first datagram answered (bounded wait).
pub fn udp_exchange(to: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(data, to).unwrap();
    let mut buf = vec![0u8; 65_536];
    s.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}
