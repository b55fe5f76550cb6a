//! Media workers keep their sockets in private fd tables (Linux): with the
//! soft RLIMIT_NOFILE lowered to 200, two workers hold 70 sessions (280
//! RTP/RTCP sockets, more than one table could), relay through them, and
//! the process's shared table never sees one of those sockets.
//!
//! Its own test binary: it lowers the limit for the whole process.
#![cfg(target_os = "linux")]
#![allow(unsafe_code)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use media::rtp::{RtpHeader, RtpPacket};
use media::{Codec, Leg, MediaConfig, MediaEngine, MediaEvent};

const LIMIT: u64 = 200;
const SESSIONS: usize = 70;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn lower_nofile(soft: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one plain rlimit struct
    // that lives on this stack frame for the calls; lowering the soft
    // limit below the hard one needs no privilege.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        r.rlim_cur = soft.min(r.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(5), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn more_sessions_than_one_fd_table_allows() {
    lower_nofile(LIMIT);
    let before_start = open_fds();
    assert!(before_start < 20, "{before_start} fds open at start");
    // 160 pairs over 2 workers: each stocks its share, 80 pairs = 160
    // sockets, which fits its own table under 200 — the process would need
    // 280 sockets for the sessions alone.
    // Started from async code, as the engine binary does.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(async {
            MediaEngine::start(MediaConfig {
                bind_ip: "127.0.0.1".parse().unwrap(),
                port_min: 36400,
                port_max: 36719,
                workers: 2,
                rtp_timeout: Duration::from_secs(30),
                kernel_forwarding: true,
            })
        })
        .expect("each worker binds its stock in its own table");
    let shared = open_fds();
    let mut live = vec![];
    for _ in 0..SESSIONS {
        live.push(e.create_session().expect("session"));
    }
    assert_eq!(e.ports_in_use(), 4 * SESSIONS);
    assert!(4 * SESSIONS as u64 > LIMIT);
    assert_eq!(open_fds(), shared, "no RTP socket in the shared table");

    // Media flows through one of them (the last: its sockets have the
    // highest numbers in their worker's table).
    let s = live.last().unwrap();
    let mut events = e.events();
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    agent
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // Leg A's SDP address is a placeholder: it latches to the caller.
    e.set_remote(s.id, Leg::A, "127.0.0.1:9".parse().unwrap(), Codec::Pcmu);
    e.set_remote(s.id, Leg::B, agent.local_addr().unwrap(), Codec::Pcmu);
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    let pkt = RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 1,
        timestamp: 160,
        ssrc: 0x1234,
    }
    .to_vec(&[0x55; 160]);
    // The latch event reaches a task of another runtime, parked while the
    // worker emits it: its wake-up must not be written, by fd number, into
    // a worker's private table.
    let latched = rt.block_on(async {
        caller.send_to(&pkt, s.a).unwrap();
        tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                if let Some(MediaEvent::Latched { leg: Leg::A, .. }) = events.recv().await {
                    return;
                }
            }
        })
        .await
    });
    assert!(latched.is_ok(), "event receiver woken");
    let mut buf = [0u8; 2048];
    let got = loop {
        let (n, _) = agent.recv_from(&mut buf).expect("relayed packet");
        if !media::rtp::is_rtcp(&buf[..n]) {
            break buf[..n].to_vec();
        }
    };
    assert_eq!(RtpPacket::parse(&got).unwrap().payload(), &[0x55; 160][..]);

    for s in live.drain(..) {
        e.release(s.id);
    }
    wait_until("ports back", || e.ports_in_use() == 0);
    drop((caller, agent, events));
    drop(e);
    drop(rt);
    // The workers are joined: their sockets are closed and the shared
    // table's copies of their runtimes' fds too (tokio's process-wide
    // signal pipe, two fds, stays).
    assert!(
        open_fds() <= before_start + 2,
        "{} fds open after the engine, {before_start} before",
        open_fds()
    );
    UdpSocket::bind("127.0.0.1:36400").expect("sockets closed at shutdown");
}
