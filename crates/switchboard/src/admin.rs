//! Admin HTTP server: `/healthz`, `/readyz`, `/api/v1/status`.
//! A deliberately small HTTP/1.1 reader: one request per connection,
//! bounded header size and read time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::Command;

pub async fn serve(
    listener: TcpListener,
    cmds: mpsc::Sender<Command>,
    ready: watch::Receiver<bool>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let cmds = cmds.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle(stream, cmds, ready)).await;
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    cmds: mpsc::Sender<Command>,
    ready: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("GET", "/healthz") => (200, "{\"status\":\"ok\"}".to_string()),
        ("GET", "/readyz") => {
            if *ready.borrow() {
                (200, "{\"ready\":true}".to_string())
            } else {
                (503, "{\"ready\":false}".to_string())
            }
        }
        ("GET", "/api/v1/status") => {
            let (tx, rx) = oneshot::channel();
            let _ = cmds.send(Command::Snapshot(tx)).await;
            match rx.await {
                Ok(v) => (200, v.to_string()),
                Err(_) => (503, "{\"error\":\"engine unavailable\"}".to_string()),
            }
        }
        ("POST", "/api/v1/drain") => {
            let _ = cmds.send(Command::Drain).await;
            (202, "{\"draining\":true}".to_string())
        }
        _ => (
            404,
            format!("{{\"error\":\"no route for {method} {path}\"}}"),
        ),
    };
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}
