//! The wallboard: one static page (`/wallboard`, embedded, no build step)
//! fed by a Server-Sent Events stream (`/api/v1/events`, event name
//! `wallboard`, one JSON object a second). One ticker queries the engine
//! while at least one stream is open, whatever the number of screens.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};

use super::api::App;
use crate::engine::commands::Query;
use crate::engine::Command;

const PAGE: &str = include_str!("wallboard.html");
/// How often open streams get a fresh state.
const PERIOD: Duration = Duration::from_secs(1);

pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

async fn fetch(app: &App) -> Option<Arc<str>> {
    match app.ask(|tx| Command::Query(Query::Wallboard, tx)).await {
        Ok(Ok(v)) => Some(Arc::from(v.to_string())),
        _ => None,
    }
}

/// One wallboard state as JSON (what each stream event carries).
pub async fn snapshot(State(app): State<App>) -> Response {
    match fetch(&app).await {
        Some(s) => ([(header::CONTENT_TYPE, "application/json")], s.to_string()).into_response(),
        None => super::api::error(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "engine unavailable",
            serde_json::json!({}),
        ),
    }
}

/// The live stream: the current state at once, then every [`PERIOD`].
pub async fn events(State(app): State<App>) -> Response {
    tracing::debug!("wallboard stream opened");
    let first = fetch(&app).await.unwrap_or_else(|| Arc::from("{}"));
    let rx = app.wallboard.subscribe();
    let later = stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let data = Arc::clone(&rx.borrow_and_update());
        Some((data, rx))
    });
    let events = stream::once(async move { first })
        .chain(later)
        .map(|data| Ok::<_, Infallible>(Event::default().event("wallboard").data(&*data)));
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Refreshes the shared state while someone listens.
pub fn spawn_ticker(app: App) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if app.wallboard.receiver_count() == 0 {
                continue;
            }
            if let Some(s) = fetch(&app).await {
                app.wallboard.send_replace(s);
            }
        }
    });
}
