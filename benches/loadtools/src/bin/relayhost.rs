//! `relayhost --calls N --port-min P [--workers W] --pairs-file F`
//!
//! Starts Switchboard's media relay (`media::MediaEngine`) on loopback,
//! creates and bridges N sessions whose remotes are placeholders (the relay
//! latches to the first packet's source, as it does for a phone behind NAT),
//! writes one `A B` line per session to F (leg A's and leg B's local
//! addresses, the format `rtpload --pairs-file` reads), prints `ready`, and
//! relays until stdin closes or it is killed.

use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use media::{Codec, Leg, MediaConfig, MediaEngine};

fn usage() -> ! {
    eprintln!("usage: relayhost --calls N --pairs-file F [--port-min P] [--workers W]");
    std::process::exit(2)
}

fn main() {
    let (mut calls, mut port_min, mut workers, mut file) = (100usize, 30000u16, 1usize, None);
    let mut args = std::env::args().skip(1);
    while let Some(k) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--calls" => calls = v.parse().unwrap_or_else(|_| usage()),
            "--port-min" => port_min = v.parse().unwrap_or_else(|_| usage()),
            "--workers" => workers = v.parse().unwrap_or_else(|_| usage()),
            "--pairs-file" => file = Some(v),
            _ => usage(),
        }
    }
    let file = file.unwrap_or_else(|| usage());
    let port_max = (port_min as usize + calls * 4 + 64).min(65535) as u16;
    let engine = MediaEngine::start(MediaConfig {
        bind_ip: Ipv4Addr::LOCALHOST.into(),
        port_min,
        port_max,
        workers,
        rtp_timeout: Duration::from_secs(3600),
        kernel_forwarding: true,
    })
    .unwrap_or_else(|e| {
        eprintln!("relayhost: {e}");
        std::process::exit(1)
    });
    let placeholder = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
    let mut out = String::new();
    let mut sessions = Vec::with_capacity(calls);
    for _ in 0..calls {
        let s = engine.create_session().unwrap_or_else(|e| {
            eprintln!("relayhost: create_session: {e}");
            std::process::exit(1)
        });
        engine.set_remote(s.id, Leg::A, placeholder, Codec::Pcmu);
        engine.set_remote(s.id, Leg::B, placeholder, Codec::Pcmu);
        engine.bridge(s.id);
        out.push_str(&format!("{} {}\n", s.a, s.b));
        sessions.push(s);
    }
    if let Err(e) = std::fs::write(&file, out) {
        eprintln!("relayhost: {file}: {e}");
        std::process::exit(1)
    }
    std::thread::sleep(Duration::from_millis(300));
    println!("ready");
    let _ = std::io::stdout().flush();
    // Relay until stdin closes (the driving script ends or is killed).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    for s in sessions {
        engine.release(s.id);
    }
}
