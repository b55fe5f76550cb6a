//! Admin HTTP server (default `127.0.0.1:8080`): health and readiness
//! probes, Prometheus metrics, the versioned JSON API (`/api/v1/...`) and
//! the wallboard page with its live event stream.
//!
//! Handlers never touch engine state: each sends a [`Command`] to the
//! engine task and awaits its reply, so every answer is one consistent
//! view. The API is described by `openapi.json` (served at
//! `/api/v1/openapi.json`); `api::tests` checks that every route served
//! is in it.
//!
//! Hardening: HTTP/1.1 only, one request per connection (no keep-alive),
//! 16 KiB of headers read within 10 s, bodies up to 64 KiB, 10 s per
//! request (event streams excepted), at most 256 connections at once.
//!
//! ```text
//! open:        /healthz  /readyz  /metrics  /wallboard  /api/v1/openapi.json
//! bearer token (when configured): every other /api/v1/ route
//! ```

mod api;
pub mod auth;
mod wallboard;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::engine::Command;

/// Most admin connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 256;
/// Time to read a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the admin API on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    cmds: mpsc::Sender<Command>,
    ready: watch::Receiver<bool>,
) {
    crate::metrics::handle();
    // The engine loop answers once it runs; the token comes from its config.
    let (tx, rx) = oneshot::channel();
    let token = match cmds.send(Command::Config(tx)).await {
        Ok(()) => match rx.await {
            Ok(cfg) => auth::load(&cfg),
            Err(_) => Err("engine stopped".into()),
        },
        Err(_) => Err("engine stopped".into()),
    };
    let token = match token {
        Ok(t) => api::Token::Configured(t.map(Arc::from)),
        Err(e) => {
            // Validation read the token already; failing closed beats open.
            tracing::error!("admin token unavailable ({e}): the API refuses every request");
            api::Token::Unavailable
        }
    };
    let app = api::App::new(cmds, ready, token);
    wallboard::spawn_ticker(app.clone());
    let router = api::build(app).0;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!("admin accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "admin: too many connections; closing");
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(16 * 1024)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "admin connection: {e}");
            }
        });
    }
}
