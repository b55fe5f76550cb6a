//! Routes and handlers of the admin API. Every error is JSON with an
//! `error` field: 400 bad JSON, 401 no or wrong token, 404 unknown route or
//! name, 405 wrong method, 409 invalid transition, 413 body too large,
//! 422 config rejected by a reload, 501 not supported, 503 engine busy.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::auth;
use super::wallboard;
use crate::engine::commands::{AgentAction, Query, Refused};
use crate::engine::Command;

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;
/// Longest a request may take (event streams excepted: they return at once).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the engine may take to answer one command.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);
/// The OpenAPI document, checked in beside `Cargo.toml`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

#[derive(Clone)]
pub enum Token {
    /// `None`: no token configured (loopback bind), the API is open.
    Configured(Option<Arc<str>>),
    /// The configured token could not be read: every request is refused.
    Unavailable,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct App {
    pub cmds: mpsc::Sender<Command>,
    pub ready: watch::Receiver<bool>,
    pub token: Arc<std::sync::RwLock<Token>>,
    /// Latest wallboard JSON, refreshed while someone streams it.
    pub wallboard: Arc<watch::Sender<Arc<str>>>,
}

impl App {
    pub fn new(cmds: mpsc::Sender<Command>, ready: watch::Receiver<bool>, token: Token) -> App {
        App {
            cmds,
            ready,
            token: Arc::new(std::sync::RwLock::new(token)),
            wallboard: Arc::new(watch::channel(Arc::from("")).0),
        }
    }

    /// Sends a command built around a reply channel and awaits the answer.
    /// Sends a command built around a reply channel and awaits the answer
    /// (a failure is a 503 [`Refused`]).
    pub async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Refused> {
        let (tx, rx) = oneshot::channel();
        let busy = || Refused::new(503, "engine unavailable", json!({}));
        tokio::time::timeout(ENGINE_TIMEOUT, async {
            self.cmds.send(make(tx)).await.map_err(|_| busy())?;
            rx.await.map_err(|_| busy())
        })
        .await
        .map_err(|_| Refused::new(503, "engine did not answer in time", json!({})))?
    }

    /// A query whose refusal (unknown name) or failure is the answer.
    async fn query(&self, q: Query) -> Result<Value, Refused> {
        self.ask(|tx| Command::Query(q, tx)).await?
    }
}

/// Either outcome as a response.
fn reply(r: Result<Value, Refused>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => refusal(e),
    }
}

/// A JSON error response.
pub fn error(status: StatusCode, message: impl Into<String>, extra: Value) -> Response {
    let r = Refused::new(status.as_u16(), message, extra);
    (status, axum::Json(r.body)).into_response()
}

fn refusal(Refused { status, body }: Refused) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

/// Routes recorded as they are added, so a test can hold them against the
/// OpenAPI document.
struct Routes {
    router: Router<App>,
    list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, App>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            _ => unreachable!("only GET and POST routes"),
        };
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, path));
        self
    }
}

/// The whole admin router and the (method, path) list it serves.
pub fn build(app: App) -> (Router, Vec<(&'static str, &'static str)>) {
    let open = Routes::new()
        .add("GET", "/healthz", healthz)
        .add("GET", "/readyz", readyz)
        .add("GET", "/metrics", metrics)
        .add("GET", "/wallboard", wallboard::page)
        .add("GET", "/api/v1/openapi.json", openapi);
    let api = Routes::new()
        .add("GET", "/api/v1/status", status)
        .add("GET", "/api/v1/queues", queues)
        .add("GET", "/api/v1/queues/{name}", queue)
        .add("GET", "/api/v1/agents", agents)
        .add("GET", "/api/v1/agents/{id}", agent)
        .add("POST", "/api/v1/agents/{id}/login", agent_login)
        .add("POST", "/api/v1/agents/{id}/logout", agent_logout)
        .add("POST", "/api/v1/agents/{id}/pause", agent_pause)
        .add("POST", "/api/v1/agents/{id}/unpause", agent_unpause)
        .add("GET", "/api/v1/calls", calls)
        .add("GET", "/api/v1/calls/{call_id}", call)
        .add("POST", "/api/v1/calls/{call_id}/hangup", call_hangup)
        .add("POST", "/api/v1/calls/{call_id}/move", call_move)
        .add("POST", "/api/v1/calls/{call_id}/monitor", call_monitor)
        .add(
            "POST",
            "/api/v1/calls/{call_id}/monitor/stop",
            call_unmonitor,
        )
        .add("POST", "/api/v1/reload", reload)
        .add("POST", "/api/v1/drain", drain)
        .add("GET", "/api/v1/wallboard", wallboard::snapshot)
        .add("GET", "/api/v1/events", wallboard::events);
    let mut list = open.list;
    list.extend(api.list);
    let router = open
        .router
        .merge(
            api.router
                .route_layer(middleware::from_fn_with_state(app.clone(), require_token)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(guard))
        .with_state(app);
    (router, list)
}

/// Request timeout, JSON for the body-limit rejection, and a counter.
async fn guard(req: Request, next: Next) -> Response {
    let resp = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            "request took too long",
            json!({}),
        ),
    };
    let resp = if resp.status() == StatusCode::PAYLOAD_TOO_LARGE
        && !is_json(resp.headers().get(header::CONTENT_TYPE))
    {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body above {BODY_LIMIT} bytes"),
            json!({}),
        )
    } else {
        resp
    };
    crate::metrics::admin_request(resp.status().as_u16());
    resp
}

fn is_json(ct: Option<&HeaderValue>) -> bool {
    ct.and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `Authorization: Bearer <token>`; the event stream may carry it as
/// `?access_token=` instead (RFC 6750 §2.3), since a browser's
/// `EventSource` cannot set headers.
async fn require_token(State(app): State<App>, req: Request, next: Next) -> Response {
    let token = app
        .token
        .read()
        .map(|t| t.clone())
        .unwrap_or(Token::Unavailable);
    let expected = match token {
        Token::Configured(None) => return next.run(req).await,
        Token::Configured(Some(t)) => t,
        Token::Unavailable => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the admin token could not be read; see the engine log",
                json!({}),
            )
        }
    };
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query_token = if req.uri().path() == "/api/v1/events" {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("access_token="))
                .map(percent_decode)
        })
    } else {
        None
    };
    let given = header_token.map(str::to_string).or(query_token);
    match given {
        Some(g) if auth::token_matches(&expected, &g) => next.run(req).await,
        other => {
            let msg = if other.is_some() {
                "wrong bearer token"
            } else {
                "a bearer token is required (Authorization: Bearer <token>)"
            };
            let mut resp = error(StatusCode::UNAUTHORIZED, msg, json!({}));
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"switchboard\""),
            );
            resp
        }
    }
}

/// `%XX` and `+` decoding of one query value (invalid escapes stay as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn not_found(req: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.uri().path()),
        json!({}),
    )
}

async fn method_not_allowed(req: Request) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
        json!({}),
    )
}

/// Parses an optional JSON body: empty means `T::default()`.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, Refused> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Refused::new(400, format!("invalid JSON body: {e}"), json!({})))
}

// ----- probes and documents ------------------------------------------------

async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn readyz(State(app): State<App>) -> Response {
    // Listening (we answer), config loaded (the engine answers from it),
    // not draining (the shell clears `ready` when the engine drains).
    let ready = *app.ready.borrow() && app.ask(Command::Config).await.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(json!({ "ready": ready }))).into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    if let Err(e) = app.ask(Command::Metrics).await {
        return refusal(e);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

// ----- reads ---------------------------------------------------------------

async fn status(State(app): State<App>) -> Response {
    reply(app.ask(Command::Snapshot).await)
}

async fn queues(State(app): State<App>) -> Response {
    reply(app.query(Query::Queues).await)
}

async fn queue(State(app): State<App>, Path(name): Path<String>) -> Response {
    reply(app.query(Query::Queue(name)).await)
}

async fn agents(State(app): State<App>) -> Response {
    reply(app.query(Query::Agents).await)
}

async fn agent(State(app): State<App>, Path(id): Path<String>) -> Response {
    reply(app.query(Query::Agent(id)).await)
}

async fn calls(State(app): State<App>) -> Response {
    reply(app.query(Query::Calls).await)
}

async fn call(State(app): State<App>, Path(call_id): Path<String>) -> Response {
    reply(app.query(Query::Call(call_id)).await)
}

// ----- agent actions -------------------------------------------------------

async fn agent_action(app: &App, id: String, action: AgentAction) -> Response {
    reply(
        async {
            app.ask(|reply| Command::Agent { id, action, reply })
                .await?
        }
        .await,
    )
}

async fn agent_login(State(app): State<App>, Path(id): Path<String>) -> Response {
    agent_action(&app, id, AgentAction::Login).await
}

async fn agent_logout(State(app): State<App>, Path(id): Path<String>) -> Response {
    agent_action(&app, id, AgentAction::Logout).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    reason: Option<String>,
}

async fn agent_pause(State(app): State<App>, Path(id): Path<String>, bytes: Bytes) -> Response {
    let b: PauseBody = match body(&bytes) {
        Ok(b) => b,
        Err(e) => return refusal(e),
    };
    if b.reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return error(
            StatusCode::BAD_REQUEST,
            "reason is longer than 200 characters",
            json!({}),
        );
    }
    agent_action(&app, id, AgentAction::Pause(b.reason)).await
}

async fn agent_unpause(State(app): State<App>, Path(id): Path<String>) -> Response {
    agent_action(&app, id, AgentAction::Unpause).await
}

// ----- call actions --------------------------------------------------------

async fn call_hangup(State(app): State<App>, Path(call_id): Path<String>) -> Response {
    reply(async { app.ask(|reply| Command::Hangup { call_id, reply }).await? }.await)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    queue: Option<String>,
}

/// Moves a waiting caller to another queue (404 unknown call or queue,
/// 409 when it is already with an agent).
async fn call_move(State(app): State<App>, Path(call_id): Path<String>, bytes: Bytes) -> Response {
    let b: MoveBody = match body(&bytes) {
        Ok(b) => b,
        Err(e) => return refusal(e),
    };
    let Some(queue) = b.queue else {
        return error(
            StatusCode::BAD_REQUEST,
            "body needs {\"queue\": \"<name>\"}",
            json!({}),
        );
    };
    reply(
        async {
            app.ask(|reply| Command::Move {
                call_id,
                queue,
                reply,
            })
            .await?
        }
        .await,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorBody {
    supervisor: Option<String>,
    mode: Option<media::MonitorMode>,
}

/// Calls the supervisor's phone and puts it on the call (`mode` listen,
/// whisper or barge; default listen), or changes the mode of the
/// supervisor already on it. 404 unknown call or agent, 409 when the call
/// is not with an agent, another supervisor is on it, or the supervisor is
/// not registered.
async fn call_monitor(
    State(app): State<App>,
    Path(call_id): Path<String>,
    bytes: Bytes,
) -> Response {
    let b: MonitorBody = match body(&bytes) {
        Ok(b) => b,
        Err(e) => return refusal(e),
    };
    let Some(supervisor) = b.supervisor else {
        return error(
            StatusCode::BAD_REQUEST,
            "body needs {\"supervisor\": \"<agent id>\", \"mode\": \"listen|whisper|barge\"}",
            json!({}),
        );
    };
    let mode = b.mode.unwrap_or(media::MonitorMode::Listen);
    reply(
        async {
            app.ask(|reply| Command::Monitor {
                call_id,
                supervisor,
                mode,
                reply,
            })
            .await?
        }
        .await,
    )
}

/// Takes the supervisor off the call (409 when nobody monitors it).
async fn call_unmonitor(State(app): State<App>, Path(call_id): Path<String>) -> Response {
    reply(
        async {
            app.ask(|reply| Command::Unmonitor { call_id, reply })
                .await?
        }
        .await,
    )
}

// ----- config and lifecycle --------------------------------------------------

/// Re-reads the config file the engine runs from. Invalid: 422 with every
/// `file:line: message`, the running config stays. Valid: applied live.
async fn reload(State(app): State<App>) -> Response {
    let cfg = match app.ask(Command::Config).await {
        Ok(c) => c,
        Err(e) => return refusal(e),
    };
    let path = cfg.path.clone();
    let loaded = match tokio::task::spawn_blocking(move || crate::config::load(&path)).await {
        Ok(l) => l,
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "config loader failed",
                json!({}),
            )
        }
    };
    let new = match loaded {
        Ok(c) => c,
        Err(errs) => {
            let list: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
            tracing::warn!("admin reload rejected:\n{errs}");
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "configuration rejected; the running configuration stays",
                json!({ "errors": list }),
            );
        }
    };
    let token = auth::load(&new);
    let report = match app.ask(|tx| Command::Reload(Box::new(new), tx)).await {
        Ok(r) => r,
        Err(e) => return refusal(e),
    };
    if let (Ok(t), Ok(mut slot)) = (token, app.token.write()) {
        *slot = Token::Configured(t.map(Arc::from));
    }
    axum::Json(json!({ "reloaded": true, "report": report })).into_response()
}

async fn drain(State(app): State<App>) -> Response {
    if app.cmds.send(Command::Drain).await.is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine unavailable",
            json!({}),
        );
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "draining": true })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        let (tx, _rx) = mpsc::channel(1);
        let (_w, r) = watch::channel(true);
        App::new(tx, r, Token::Configured(None))
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Bb%3D%3d+c"), "a+b== c");
        assert_eq!(percent_decode("bad%zzend%4"), "bad%zzend%4");
        assert_eq!(percent_decode("%"), "%");
    }

    /// Every route the server serves is documented in openapi.json, with
    /// its method, and the document lists nothing the server lacks.
    #[test]
    fn openapi_documents_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."));
        let (_, routes) = build(app());
        for (method, path) in &routes {
            let op = &doc["paths"][*path][method.to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{method} {path} is served but not in openapi.json"
            );
            assert!(op["responses"].is_object(), "{method} {path}: no responses");
        }
        let paths = doc["paths"].as_object().expect("paths");
        for (path, ops) in paths {
            for method in ops.as_object().expect("operations").keys() {
                let m = method.to_ascii_uppercase();
                assert!(
                    routes.iter().any(|(rm, rp)| *rm == m && rp == path),
                    "openapi.json documents {m} {path}, which is not served"
                );
            }
        }
    }
}
