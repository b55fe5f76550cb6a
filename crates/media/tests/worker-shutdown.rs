//! Engine shutdown with media workers in private fd tables (Linux).
//!
//! Its own test binary: `fd-tables.rs` lowers the process's fd limit, and
//! two engines starting at once in one process would also blur which fds
//! each worker's runtime opened.
#![cfg(target_os = "linux")]

use std::time::Duration;

use media::{MediaConfig, MediaEngine};

/// A subscriber's channel is never touched from a worker: a send, or the
/// drop of its last sender, wakes the receiver's runtime by writing that
/// runtime's eventfd by number, which in a worker's private table is one
/// of its sockets (tokio then panics "failed to wake I/O driver"). The
/// subscribers' senders live in the `media-events` thread only; this drops
/// the engine (and the workers' sessions) while a subscriber waits.
#[test]
fn shutting_down_with_a_live_subscriber_never_panics_a_worker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static WORKER_PANICS: AtomicUsize = AtomicUsize::new(0);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("media-worker"))
        {
            WORKER_PANICS.fetch_add(1, Ordering::SeqCst);
        }
        prev(info);
    }));
    for round in 0..10 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt
            .block_on(async {
                MediaEngine::start(MediaConfig {
                    bind_ip: "127.0.0.1".parse().unwrap(),
                    port_min: 36800,
                    port_max: 36879,
                    workers: 2,
                    rtp_timeout: Duration::from_secs(30),
                    kernel_forwarding: true,
                })
            })
            .expect("engine");
        // The subscriber waits in another runtime, parked in epoll, until
        // the hub closes its channel.
        let mut events = e.events();
        let subscriber = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { while events.recv().await.is_some() {} });
        });
        let live: Vec<_> = (0..6).map(|_| e.create_session().unwrap()).collect();
        for s in &live[..3] {
            e.release(s.id);
        }
        drop(e); // the workers' sessions hold the hub last
        subscriber.join().unwrap();
        assert_eq!(WORKER_PANICS.load(Ordering::SeqCst), 0, "round {round}");
    }
}
