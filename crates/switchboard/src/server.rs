//! The I/O shell around the engine: UDP sockets, the clock, media events,
//! signals and the admin server. Everything protocol-shaped lives in
//! `engine`; this file only moves bytes and time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::admin;
use crate::cdr::CdrWriter;
use crate::config::{Config, Transport};
use crate::engine::{Command, Engine};
use crate::transport::tcp::{Connections, Limits};
use crate::transport::Inbound;

pub async fn run(cfg: Config) -> anyhow_lite::Result<()> {
    let cfg = Arc::new(cfg);
    let media = media::MediaEngine::start(media::MediaConfig {
        bind_ip: cfg.raw.media.ip,
        port_min: cfg.raw.media.rtp_ports.get_ref()[0],
        port_max: cfg.raw.media.rtp_ports.get_ref()[1],
        workers: cfg.raw.media.workers,
        rtp_timeout: cfg.raw.media.rtp_timeout,
        kernel_forwarding: cfg.raw.media.kernel_forwarding,
    })?;
    let mut media_events = media.events();
    // Media commands of one engine turn reach each worker in one wake-up;
    // `flush` below hands them over.
    media.set_batching(true);
    let cdr = CdrWriter::open(&cfg.raw.cdr.path)?;
    let secret = match &cfg.raw.auth.secret_file {
        Some(p) => std::fs::read(
            cfg.path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(p),
        )?,
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    let mut sockets = Vec::new();
    for l in cfg.listen.iter().filter(|l| l.transport == Transport::Udp) {
        let s = UdpSocket::bind(l.addr)
            .await
            .map_err(|e| anyhow_lite::Error(format!("bind udp {}: {e}", l.addr)))?;
        tracing::info!(addr = %l.addr, "SIP listening (UDP)");
        sockets.push(Arc::new(s));
    }
    if sockets.is_empty() {
        return Err(anyhow_lite::Error("no UDP listener configured".into()));
    }
    // Each socket's address family, looked up once: asking the kernel
    // (getsockname) on every send cost one syscall per SIP message.
    let ipv4: Vec<bool> = sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.is_ipv4()).unwrap_or(true))
        .collect();
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(64);
    let (ready_tx, ready_rx) = watch::channel(true);
    let admin_addr = cfg.admin_listen;
    let admin_listener = tokio::net::TcpListener::bind(admin_addr)
        .await
        .map_err(|e| anyhow_lite::Error(format!("bind admin {admin_addr}: {e}")))?;
    tracing::info!(addr = %admin_addr, "admin listening");
    tokio::spawn(admin::serve(admin_listener, cmd_tx.clone(), ready_rx));

    let mut engine = Engine::new(
        Arc::clone(&cfg),
        media,
        cdr,
        &secret,
        Instant::now(),
        SystemTime::now(),
    )
    .with_queue_log(match &cfg.raw.cdr.queue_log {
        Some(p) => CdrWriter::open(p)?,
        None => CdrWriter::discard(),
    });
    // Datagrams from every socket funnel into the engine task.
    let (dgram_tx, mut dgram_rx) = mpsc::channel::<Inbound>(4096);
    for s in sockets.iter() {
        let s = Arc::clone(s);
        let tx = dgram_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                match s.recv_from(&mut buf).await {
                    Ok((n, src)) => {
                        let msg = Inbound {
                            at: Instant::now(),
                            source: src,
                            data: Bytes::copy_from_slice(&buf[..n]),
                            proto: crate::transport::Proto::Udp,
                        };
                        if tx.send(msg).await.is_err() {
                            break;
                        }
                    }
                    // ICMP port unreachable and the like: keep listening.
                    Err(e) => tracing::debug!("recv: {e}"),
                }
            }
        });
    }

    let tcp = Connections::new(Limits::default(), dgram_tx.clone());
    for l in cfg.listen.iter().filter(|l| l.transport == Transport::Tls) {
        let (cert, key) = cfg
            .tls
            .clone()
            .ok_or_else(|| anyhow_lite::Error("tls listener without certificate".into()))?;
        let acceptor = crate::transport::tls::acceptor(&cert, &key).map_err(anyhow_lite::Error)?;
        let listener = tokio::net::TcpListener::bind(l.addr)
            .await
            .map_err(|e| anyhow_lite::Error(format!("bind tls {}: {e}", l.addr)))?;
        tracing::info!(addr = %l.addr, "SIP listening (TLS)");
        tokio::spawn(tcp.clone().listen_tls(listener, acceptor));
    }
    let hep = match &cfg.raw.hep {
        Some(h) => {
            let addr: std::net::SocketAddr = h
                .address
                .get_ref()
                .parse()
                .map_err(|_| anyhow_lite::Error("[hep] address".into()))?;
            let password = h.password_env.as_ref().and_then(|v| std::env::var(v).ok());
            tracing::info!(%addr, "SIP capture to HEP");
            Some(crate::hep::Hep::new(addr, h.agent_id, password)?)
        }
        None => None,
    };
    let local = sockets[0].local_addr()?;
    // HEP capture of one message; `outbound` when the engine sent it.
    let capture = |outbound: bool, peer, tcp: bool, data: &[u8]| {
        if let Some(h) = &hep {
            let (src, dst) = if outbound {
                (local, peer)
            } else {
                (peer, local)
            };
            h.send(&crate::hep::Capture {
                src,
                dst,
                tcp,
                time: SystemTime::now(),
                payload: data,
                call_id: crate::hep::call_id(data),
            });
        }
    };
    for l in cfg.listen.iter().filter(|l| l.transport == Transport::Tcp) {
        let listener = tokio::net::TcpListener::bind(l.addr)
            .await
            .map_err(|e| anyhow_lite::Error(format!("bind tcp {}: {e}", l.addr)))?;
        tracing::info!(addr = %l.addr, "SIP listening (TCP)");
        tokio::spawn(tcp.clone().listen(listener));
    }

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        let deadline = engine
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            Some(msg) = dgram_rx.recv() => {
                capture(false, msg.source, msg.proto.reliable(), &msg.data);
                deliver(&mut engine, msg);
                // Take whatever else is already queued before flushing.
                while let Ok(msg) = dgram_rx.try_recv() {
                    capture(false, msg.source, msg.proto.reliable(), &msg.data);
                    deliver(&mut engine, msg);
                    flush(&mut engine, &sockets, &ipv4, &tcp, &capture).await;
                }
            }
            Some(ev) = media_events.recv() => engine.handle_media_event(Instant::now(), ev),
            Some(cmd) = cmd_rx.recv() => engine.handle_command(Instant::now(), cmd),
            _ = tokio::time::sleep_until(deadline.into()) => {
                // What fires was due at `deadline`: latency counts from there.
                engine.mark_arrival(deadline);
                engine.handle_timeout(Instant::now())
            }
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM: draining");
                engine.drain();
            }
            _ = sighup.recv() => {
                let path = engine.config().path.clone();
                match crate::config::load(&path) {
                    Ok(cfg) => {
                        engine.reload(cfg, Instant::now());
                    }
                    Err(errs) => tracing::error!("SIGHUP: configuration rejected, running config kept:\n{errs}"),
                }
            }
            _ = sigint.recv() => {
                tracing::info!("SIGINT: stopping");
                break;
            }
            // Idle time (or a turn among ready inputs): the router's
            // housekeeping, a bounded slice at a time.
            _ = std::future::ready(()), if engine.housekeeping_pending() => engine.housekeep(),
        }
        flush(&mut engine, &sockets, &ipv4, &tcp, &capture).await;
        if engine.is_draining() && drain_deadline.is_none() {
            let _ = ready_tx.send(false);
            drain_deadline = Some(Instant::now() + Duration::from_secs(300));
        }
        if let Some(d) = drain_deadline {
            if engine.active_calls() == 0 || Instant::now() >= d {
                tracing::info!(active = engine.active_calls(), "drained: exiting");
                // Let the admin reply (or the last BYE) that ended the drain go out.
                flush(&mut engine, &sockets, &ipv4, &tcp, &capture).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                break;
            }
        }
    }
    Ok(())
}

fn deliver(engine: &mut Engine, msg: Inbound) {
    let now = Instant::now();
    engine.note_queue_delay(now.saturating_duration_since(msg.at));
    engine.mark_arrival(msg.at);
    tracing::trace!(src = %msg.source, tcp = msg.proto.reliable(), "recv\n{}", String::from_utf8_lossy(&msg.data));
    engine.handle_message(now, msg.source, msg.data, msg.proto);
}

async fn flush(
    engine: &mut Engine,
    sockets: &[Arc<UdpSocket>],
    ipv4: &[bool],
    tcp: &Connections,
    capture: &impl Fn(bool, std::net::SocketAddr, bool, &[u8]),
) {
    engine.flush_media();
    while let Some(t) = engine.poll_transmit() {
        capture(true, t.dest, t.reliable, &t.data);
        if t.reliable {
            tracing::trace!(dest = %t.dest, "send (tcp)\n{}", String::from_utf8_lossy(&t.data));
            tcp.send_nowait(t.dest, t.data);
            continue;
        }
        tracing::trace!(dest = %t.dest, "send\n{}", String::from_utf8_lossy(&t.data));
        let sock = ipv4
            .iter()
            .position(|&v4| v4 == t.dest.is_ipv4())
            .map_or(&sockets[0], |i| &sockets[i]);
        match sock.try_send_to(&t.data, t.dest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let _ = sock.send_to(&t.data, t.dest).await;
            }
            Err(e) => tracing::debug!(dest = %t.dest, "send: {e}"),
        }
    }
}

/// A tiny error type for the shell (no `anyhow` dependency needed).
pub mod anyhow_lite {
    #[derive(Debug)]
    pub struct Error(pub String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl<E: std::error::Error> From<E> for Error {
        fn from(e: E) -> Self {
            Error(e.to_string())
        }
    }
    pub type Result<T> = std::result::Result<T, Error>;
}
