//! Media worker threads. Each worker is one OS thread running a
//! current-thread tokio runtime ("NoSteal", as pingora does): a session is
//! one task that owns its four sockets and all its state, so the packet path
//! takes no lock and shares nothing but relaxed counters. Call control
//! reaches a session over its command channel.

mod session;
mod sys;
mod tap;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::engine::{EventHub, MonitorMode};
use crate::pool::LegSockets;
use crate::recorder::RecorderHandle;
use crate::{Codec, Leg, Prompt, SessionId, SessionStats};

pub(crate) struct SessionInit {
    pub id: SessionId,
    pub legs: [LegSockets; 2],
    pub cmds: UnboundedReceiver<SessionCmd>,
    pub stats: Arc<SessionStats>,
    pub events: Arc<EventHub>,
    pub rtp_timeout: Duration,
    /// Where the sockets go back (still bound) when the session ends.
    pub pool: crate::pool::PortPool,
    /// The address the sockets are bound to.
    pub ip: std::net::IpAddr,
}

#[derive(Debug)]
pub(crate) enum SessionCmd {
    SetRemote {
        leg: Leg,
        remote: std::net::SocketAddr,
        codec: Codec,
    },
    Play {
        leg: Leg,
        prompt: Arc<Prompt>,
        looped: bool,
    },
    StopPlay {
        leg: Leg,
    },
    TelephoneEvent {
        leg: Leg,
        pt: Option<u8>,
    },
    SendDtmf {
        leg: Leg,
        digit: char,
        duration: Duration,
    },
    InbandDtmf {
        leg: Leg,
        on: bool,
    },
    Bridge(bool),
    PayloadType {
        leg: Leg,
        pt: u8,
    },
    /// Add leg C (a supervisor) with its sockets.
    AttachC(Box<LegSockets>),
    DetachC,
    Monitor(Option<MonitorMode>),
    Record(Option<(RecorderHandle, std::path::PathBuf)>),
    Release,
}

/// What a worker receives: session starts and commands, in order. Call
/// control with batching on sends those of one turn together: one wake-up
/// of the worker for all of them.
pub(crate) type WorkerMsg = Vec<Queued>;

/// One item of a [`WorkerMsg`].
pub(crate) enum Queued {
    Start(Box<SessionInit>),
    Cmd(tokio::sync::mpsc::UnboundedSender<SessionCmd>, SessionCmd),
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queued::Start(i) => write!(f, "Start({:?})", i.id),
            Queued::Cmd(_, c) => write!(f, "Cmd({c:?})"),
        }
    }
}

/// Starts worker `index`; it runs until every sender of `rx` is dropped,
/// then cancels its sessions (closing their sockets, returning their ports).
/// With `pin`, the thread is pinned to CPU `index` (one worker per core).
pub(crate) fn spawn_worker(
    index: usize,
    pin: bool,
    mut rx: UnboundedReceiver<WorkerMsg>,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("media-worker-{index}"))
        .spawn(move || {
            if pin {
                sys::pin_to_cpu(index);
            }
            rt.block_on(async move {
                while let Some(items) = rx.recv().await {
                    // Same-thread wake-ups: no eventfd per command.
                    for item in items {
                        match item {
                            Queued::Start(init) => {
                                tokio::spawn(session::run(*init));
                            }
                            Queued::Cmd(tx, cmd) => {
                                let _ = tx.send(cmd);
                            }
                        }
                    }
                }
            });
            // Dropping the runtime drops every session task and its sockets.
        })?;
    Ok(())
}
