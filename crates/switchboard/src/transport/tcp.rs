//! SIP over TCP (RFC 3261 §18): Content-Length framing, responses and
//! in-dialog requests reuse the connection a peer opened, outbound
//! connections are opened on demand, and every connection is bounded in
//! message size, time to complete a message, idle time and count.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use sip_core::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Inbound, Proto};

/// Limits that keep one peer from holding the engine's resources.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once (inbound and outbound).
    pub max_connections: usize,
    /// A message that has started must be complete within this time.
    pub message_timeout: Duration,
    /// A connection with nothing in flight is closed after this time.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            message_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// Open connections by peer address, each with its writer queue.
#[derive(Clone)]
pub struct Connections {
    map: Arc<DashMap<SocketAddr, mpsc::Sender<Bytes>>>,
    open: Arc<AtomicUsize>,
    limits: Limits,
    inbound: mpsc::Sender<Inbound>,
}

impl Connections {
    pub fn new(limits: Limits, inbound: mpsc::Sender<Inbound>) -> Connections {
        Connections {
            map: Arc::new(DashMap::new()),
            open: Arc::new(AtomicUsize::new(0)),
            limits,
            inbound,
        }
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Accepts TLS connections: TCP accept, then the handshake (bounded by
    /// `message_timeout`) in its own task so a slow client holds nothing else.
    pub async fn listen_tls(self, listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            if self.open() >= self.limits.max_connections {
                tracing::warn!(%peer, "TLS connection refused: limit reached");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let (this, acceptor) = (self.clone(), acceptor.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(this.limits.message_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls)) => {
                        this.spawn_stream(tls, peer, Proto::Tls);
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    }

    /// Accepts connections until the listener fails.
    pub async fn listen(self, listener: TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            if self.open() >= self.limits.max_connections {
                tracing::warn!(%peer, "TCP connection refused: limit reached");
                drop(stream);
                continue;
            }
            self.spawn(stream, peer);
        }
    }

    /// Queues `data` on the connection to `dest` without waiting; when there
    /// is no connection, a task opens one and sends. A full writer queue
    /// (a peer that stopped reading) drops the message: SIP retransmission
    /// timers and Timer B/F deal with it as with any loss.
    pub fn send_nowait(&self, dest: SocketAddr, data: Bytes) {
        if let Some(tx) = self.map.get(&dest).map(|t| t.clone()) {
            match tx.try_send(data) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!(%dest, "TCP writer queue full: message dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(d)) => {
                    let this = self.clone();
                    tokio::spawn(async move { this.send(dest, d).await });
                    return;
                }
            }
        }
        let this = self.clone();
        tokio::spawn(async move { this.send(dest, data).await });
    }

    /// Sends on the connection to `dest`, opening one when there is none.
    pub async fn send(&self, dest: SocketAddr, data: Bytes) {
        if let Some(tx) = self.map.get(&dest).map(|t| t.clone()) {
            if tx.send(data.clone()).await.is_ok() {
                return;
            }
        }
        if self.open() >= self.limits.max_connections {
            tracing::warn!(%dest, "TCP send dropped: connection limit reached");
            return;
        }
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(dest)).await {
            Ok(Ok(stream)) => {
                let tx = self.spawn(stream, dest);
                let _ = tx.send(data).await;
            }
            _ => tracing::debug!(%dest, "TCP connect failed"),
        }
    }

    fn spawn(&self, stream: TcpStream, peer: SocketAddr) -> mpsc::Sender<Bytes> {
        let _ = stream.set_nodelay(true);
        self.spawn_stream(stream, peer, Proto::Tcp)
    }

    /// Runs a connection over any byte stream (plain TCP, or TLS after its
    /// handshake): a reader task framing messages, a writer task draining
    /// the send queue.
    pub fn spawn_stream<S>(&self, stream: S, peer: SocketAddr, proto: Proto) -> mpsc::Sender<Bytes>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Bytes>(256);
        self.map.insert(peer, tx.clone());
        self.open.fetch_add(1, Ordering::Relaxed);
        let (mut reader, mut writer) = tokio::io::split(stream);
        let writer_task = tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if writer.write_all(&data).await.is_err() {
                    break;
                }
            }
        });
        let this = self.clone();
        let my_tx = tx.clone();
        let pong = tx.clone();
        tokio::spawn(async move {
            this.read_loop(&mut reader, peer, proto, &pong).await;
            writer_task.abort();
            // Only forget the entry if it is still ours (a newer one may exist).
            this.map.remove_if(&peer, |_, t| t.same_channel(&my_tx));
            this.open.fetch_sub(1, Ordering::Relaxed);
        });
        tx
    }

    async fn read_loop<R: tokio::io::AsyncRead + Unpin>(
        &self,
        reader: &mut R,
        peer: SocketAddr,
        proto: Proto,
        pong: &mpsc::Sender<Bytes>,
    ) {
        let mut buf = BytesMut::with_capacity(8192);
        loop {
            // Frame every complete message already buffered.
            loop {
                // RFC 5626 §4.4.1 keep-alives between messages: a
                // double-CRLF "ping" gets a single-CRLF "pong"; a lone CRLF
                // is dropped.
                if buf.starts_with(b"\r\n\r\n") {
                    let _ = buf.split_to(4);
                    let _ = pong.try_send(Bytes::from_static(b"\r\n"));
                    continue;
                }
                if buf.starts_with(b"\r\n") && buf.len() >= 4 {
                    let _ = buf.split_to(2);
                    continue;
                }
                match Message::frame_len(&buf) {
                    Ok(Some(n)) => {
                        let data = buf.split_to(n).freeze();
                        if self
                            .inbound
                            .send(Inbound::stream(peer, data, proto))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // Framing is lost: hand the engine what we have (it
                        // answers 400/513 when it can) and close.
                        tracing::debug!(%peer, "TCP framing error: {e}");
                        let data = buf.split().freeze();
                        let _ = self.inbound.send(Inbound::stream(peer, data, proto)).await;
                        return;
                    }
                }
            }
            let in_flight = buf.iter().any(|b| !b.is_ascii_whitespace());
            let wait = if in_flight {
                self.limits.message_timeout
            } else {
                self.limits.idle_timeout
            };
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(8192);
            }
            match tokio::time::timeout(wait, reader.read_buf(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(_)) => {}
                Err(_) => {
                    tracing::debug!(%peer, in_flight, "TCP connection timed out");
                    return;
                }
            }
        }
    }
}

impl Inbound {
    fn stream(source: SocketAddr, data: Bytes, proto: Proto) -> Inbound {
        Inbound {
            at: Instant::now(),
            source,
            data,
            proto,
        }
    }
}
