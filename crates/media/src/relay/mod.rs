//! Media worker threads. Each worker is one OS thread running a
//! current-thread tokio runtime ("NoSteal", as pingora does): a session is
//! one task that owns its four sockets and all its state, so the packet path
//! takes no lock and shares nothing but relaxed counters. Call control
//! reaches a session over its command channel.
//!
//! # Sockets live in the workers, in private fd tables
//!
//! Every RTP/RTCP socket is created, bound, registered with the worker's
//! reactor, reused and closed by its worker (`stock`): the engine thread
//! only claims port numbers from the worker's ready queue
//! ([`crate::PortPool`]). Idle pairs stay registered across calls (no
//! `epoll_ctl` per call).
//!
//! On Linux each worker also gives itself a private fd table
//! (`unshare(CLONE_FILES)`), for two reasons:
//!
//! - `RLIMIT_NOFILE` bounds fd *numbers per table*, not per process: with a
//!   hard limit of 20,000 one table caps anchored calls (4 sockets each) at
//!   ≈4,900, while N workers hold N tables' worth.
//! - A table used by one thread lets the kernel's `fdget` skip the file
//!   reference count on every `recvmmsg`/`sendto`.
//!
//! What must hold for that to be correct:
//!
//! - The runtime's own fds (epoll instance and its registry duplicate,
//!   eventfd waker, signal driver socket) are created in the **shared**
//!   table: [`spawn_worker`] builds the runtime before starting the thread,
//!   because other threads wake the worker by writing its eventfd *by
//!   number*, from their table. The fds the build opened are found by
//!   listing `/proc/thread-self/fd` before and after (tokio's process-wide
//!   signal pipe is created first, once, so that it is not among them); if
//!   the new fds are not exactly the expected ones (another thread opened
//!   one meanwhile, or another tokio), the worker stays in the shared table.
//! - First thing in the thread, `unshare(CLONE_FILES)` copies the table;
//!   every fd ≥ 3 of the copy except the runtime's is closed
//!   (`close_range` over the gaps, or one `close` per listed fd before
//!   Linux 5.9). Whatever else was open is another thread's, and a copy left
//!   here would keep it alive (a listener, a socket's port) and could be
//!   used by number by mistake.
//! - Nothing in a worker uses an fd opened by another thread: logging goes
//!   to stderr (fd 2, kept); the recorder runs on its own thread, started
//!   from the engine's side, and gets frames over a std channel; prompts are
//!   in memory. Nor does a worker wake another runtime's task: that writes
//!   the other runtime's eventfd by number, which here is closed or one of
//!   our sockets (found the hard way: the engine's event receiver lost its
//!   wake-ups). Events go to subscribers through the `media-events` thread
//!   (`engine::EventHub`) over a std channel (futex, no fd). Asynchronous
//!   signals are blocked in workers, so no signal handler (tokio's writes
//!   its pipe by number) runs in a private table. And the worker's runtime
//!   no longer watches tokio's process-wide signal pipe (its registration
//!   is deleted from the worker's epoll): otherwise, when SIGHUP or SIGTERM
//!   reaches the engine, a worker's signal driver could be the one to read
//!   the pipe and wake the engine's signal listener, writing the engine's
//!   eventfd by number from the private table (found the hard way: a
//!   worker panicked "failed to wake I/O driver" on SIGTERM).
//! - When a worker stops, it closes its sockets and its runtime (its
//!   copies); whoever drops the last engine handle joins it and closes the
//!   shared table's copies of its runtime fds.
//!
//! If `unshare` fails the worker logs once and runs in the shared table
//! (still correct, with the old limit). `SWITCHBOARD_MEDIA_SHARED_FDS=1`
//! forces that, to compare.

pub(crate) mod kfwd;
mod session;
mod stock;
mod sys;
mod tap;

pub(crate) use stock::{HIGH, LOW};

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::engine::{EventHub, MonitorMode};
use crate::recorder::RecorderHandle;
use crate::{Codec, Leg, Prompt, SessionId, SessionStats};
use stock::Stock;

pub(crate) struct SessionInit {
    pub id: SessionId,
    /// The even ports of legs A and B, claimed from this worker's ready
    /// queue: their pairs wait in its stock.
    pub ports: [u16; 2],
    pub cmds: UnboundedReceiver<SessionCmd>,
    pub stats: Arc<SessionStats>,
    pub events: Arc<EventHub>,
    pub rtp_timeout: Duration,
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
    /// Add leg C (a supervisor): the even port claimed from the session's
    /// worker, whose pair waits in its stock.
    AttachC(u16),
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

/// A started worker thread.
pub(crate) struct Worker {
    thread: Option<std::thread::JoinHandle<bool>>,
    /// The runtime's fds (epoll, eventfd) as numbered in the shared table.
    shared_fds: Vec<i32>,
}

impl Worker {
    /// Waits for the thread to end (its sender must be gone), then closes
    /// the shared table's copies of its runtime fds if it ran in a private
    /// table (otherwise dropping the runtime closed the only copies).
    pub(crate) fn join(mut self) {
        let Some(t) = self.thread.take() else { return };
        if t.thread().id() == std::thread::current().id() {
            return; // never join oneself
        }
        if let Ok(true) = t.join() {
            #[cfg(target_os = "linux")]
            sys::close_shared_copies(&self.shared_fds);
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Worker(fds {:?})", self.shared_fds)
    }
}

/// Logs once per process that workers share the process fd table.
fn shared_table_once(why: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            "media workers share the process fd table ({why}): concurrent calls are \
             bounded by RLIMIT_NOFILE / 4"
        );
    });
}

/// Starts worker `index`, binding RTP pairs on `ip` from `pool`; it runs
/// until every sender of `rx` is dropped, then cancels its sessions and
/// closes its stock (closing every socket, returning every port). With
/// `pin`, the thread is pinned to CPU `index` (one worker per core).
/// `started` gets the result of its first stock refill.
pub(crate) fn spawn_worker(
    index: usize,
    pin: bool,
    ip: std::net::IpAddr,
    pool: crate::pool::PortPool,
    mut rx: UnboundedReceiver<WorkerMsg>,
    started: std::sync::mpsc::Sender<std::io::Result<usize>>,
    kfwd: Option<kfwd::KfwdMap>,
) -> std::io::Result<Worker> {
    // The runtime is built here, in the shared fd table: the engine wakes
    // the worker by writing the runtime's eventfd by number from its own
    // thread, so that fd must exist (as the same file) in both tables.
    #[cfg(target_os = "linux")]
    let before = {
        signal_pipe_once();
        sys::open_fds()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    #[cfg(target_os = "linux")]
    let keep = match (before, sys::open_fds()) {
        (Some(b), Some(a)) => sys::runtime_fds(&b, &a),
        _ => None,
    };
    #[cfg(not(target_os = "linux"))]
    let keep: Option<Vec<i32>> = None;
    let shared_fds = keep.clone().unwrap_or_default();
    // The in-kernel forwarding map is used by number from the worker's
    // sessions: its fd stays open in the private table too.
    let keep = keep.map(|mut k| {
        k.extend(kfwd.as_ref().map(kfwd::KfwdMap::fd));
        k
    });
    let thread = std::thread::Builder::new()
        .name(format!("media-worker-{index}"))
        .spawn(move || {
            let private = private_table(keep.as_deref());
            if pin {
                sys::pin_to_cpu(index);
            }
            rt.block_on(async move {
                let stock = Arc::new(parking_lot::Mutex::new(Stock::new(index, ip, pool)));
                let _ = started.send(stock.lock().refill());
                let mut warned = false;
                loop {
                    // While short of ready pairs (the free list ran dry),
                    // retry on a tick as well as after each message.
                    let msg = if stock.lock().short() {
                        tokio::time::timeout(REFILL_TICK, rx.recv()).await.ok()
                    } else {
                        Some(rx.recv().await)
                    };
                    match msg {
                        Some(None) => break,
                        Some(Some(items)) => dispatch(items, &stock),
                        None => {}
                    }
                    match stock.lock().refill() {
                        Ok(_) => warned = false,
                        Err(e) if !warned => {
                            warned = true;
                            tracing::warn!(worker = index, error = %e, "cannot bind RTP ports");
                        }
                        Err(_) => {}
                    }
                }
                stock.lock().close_all();
            });
            // Dropping the runtime drops every session task and its sockets.
            drop(rt);
            private
        })?;
    Ok(Worker {
        thread: Some(thread),
        shared_fds,
    })
}

/// Makes tokio create its process-wide signal pipe (on the first runtime
/// with I/O), so that it is not among the fds a worker's runtime build
/// opens: those must be the runtime's own.
#[cfg(target_os = "linux")]
fn signal_pipe_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            // Not a plain drop: the engine may be started from async code.
            rt.shutdown_background();
        }
    });
}

/// How often a worker short of ready pairs retries binding.
const REFILL_TICK: Duration = Duration::from_millis(50);

/// Runs first in a worker thread: blocks asynchronous signals and moves the
/// thread to a private fd table keeping only the runtime's fds (`keep`).
/// Returns whether it did.
fn private_table(keep: Option<&[i32]>) -> bool {
    #[cfg(target_os = "linux")]
    {
        sys::block_async_signals();
        let Some(keep) = keep else {
            shared_table_once("the runtime's fds were not found");
            return false;
        };
        if std::env::var_os("SWITCHBOARD_MEDIA_SHARED_FDS").is_some_and(|v| v == "1") {
            shared_table_once("SWITCHBOARD_MEDIA_SHARED_FDS=1");
            return false;
        }
        match sys::enter_private_fd_table(keep) {
            Ok(()) => {
                // The runtime's signal driver would otherwise process a
                // signal meant for the engine (SIGHUP, SIGTERM) here and
                // wake the engine's listener: a cross-table wake.
                if let Err(e) = sys::mute_signal_driver(keep) {
                    tracing::warn!(error = %e, "media worker: could not detach tokio's signal pipe");
                }
                true
            }
            Err(e) => {
                shared_table_once(&format!("unshare(CLONE_FILES): {e}"));
                false
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = keep;
        false
    }
}

/// Hands a message's session starts and commands to their tasks, in order.
fn dispatch(items: WorkerMsg, stock: &Arc<parking_lot::Mutex<Stock>>) {
    for item in items {
        match item {
            Queued::Start(init) => {
                tokio::spawn(session::run(*init, stock.clone()));
            }
            // Same-thread wake-ups: no eventfd per command.
            Queued::Cmd(tx, cmd) => {
                if let Err(e) = tx.send(cmd) {
                    // The session is gone: a claimed leg C port is ready again.
                    if let SessionCmd::AttachC(port) = e.0 {
                        stock.lock().unclaim(port);
                    }
                }
            }
        }
    }
}
