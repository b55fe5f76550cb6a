//! Batched UDP receive for the relay workers: `recvmmsg(2)` on Linux, a
//! `try_recv_from` loop elsewhere. This is the only `unsafe` code of the
//! relay; each block says why it is sound.
//!
//! The gain is not (only) batching — a call's socket rarely holds more than
//! one packet — but knowing the queue is empty: when `recvmmsg` returns
//! fewer datagrams than asked, the socket is drained, so the worker skips
//! the extra `recvfrom` that would only return `EAGAIN` (3 → 2 syscalls per
//! relayed packet).
#![allow(unsafe_code)]

use std::io;
use std::net::SocketAddr;

/// Datagrams per receive call.
pub(crate) const BATCH: usize = 8;
/// Receive buffer per datagram (RTP over UDP on Ethernet fits in 1500).
pub(crate) const BUF: usize = 2048;

/// Buffers for one batched receive.
pub(crate) struct RecvBatch {
    bufs: Box<[[u8; BUF]; BATCH]>,
    lens: [usize; BATCH],
    addrs: [Option<SocketAddr>; BATCH],
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        RecvBatch {
            bufs: Box::new([[0; BUF]; BATCH]),
            lens: [0; BATCH],
            addrs: [None; BATCH],
        }
    }

    /// Runs `f` with this thread's batch. Sessions on a worker run one at a
    /// time and never await while draining, so one batch per worker serves
    /// them all: 16 kB per worker rather than per call (and no zeroed
    /// allocation per session). `f` must not call `with` again.
    pub(crate) fn with<R>(f: impl FnOnce(&mut RecvBatch) -> R) -> R {
        thread_local! {
            static BATCH: std::cell::RefCell<RecvBatch> = std::cell::RefCell::new(RecvBatch::new());
        }
        BATCH.with(|b| f(&mut b.borrow_mut()))
    }

    /// Datagram `i` of the last receive and its source.
    pub(crate) fn get(&mut self, i: usize) -> (&mut [u8], Option<SocketAddr>) {
        let len = self.lens[i].min(BUF);
        (&mut self.bufs[i][..len], self.addrs[i])
    }

    /// Receives up to [`BATCH`] datagrams without blocking; `WouldBlock`
    /// when there are none.
    #[cfg(target_os = "linux")]
    pub(crate) fn recv(&mut self, sock: &tokio::net::UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        let fd = sock.as_raw_fd();
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for
        // which all-zero bytes are a valid value.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovs[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = BUF;
            hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `fd` is an open UDP socket owned by `sock`, alive for the
        // call. Every header points at a live iovec of `BUF` writable bytes
        // (`self.bufs[i]`) and a live sockaddr_storage with its true size;
        // the kernel writes at most those sizes and at most `BATCH` headers.
        // None of these buffers is otherwise borrowed during the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            self.lens[i] = hdrs[i].msg_len as usize;
            self.addrs[i] = sockaddr(&names[i], hdrs[i].msg_hdr.msg_namelen);
        }
        Ok(n)
    }

    /// Portable fallback: one datagram per call.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn recv(&mut self, sock: &tokio::net::UdpSocket) -> io::Result<usize> {
        let (n, from) = sock.try_recv_from(&mut self.bufs[0])?;
        self.lens[0] = n;
        self.addrs[0] = Some(from);
        Ok(1)
    }
}

#[cfg(target_os = "linux")]
fn sockaddr(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match s.ss_family as libc::c_int {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the kernel wrote an AF_INET address of at least
            // sizeof(sockaddr_in) bytes; sockaddr_storage is aligned for
            // every sockaddr type.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for AF_INET6 / sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Pins the calling thread to CPU `cpu` (Linux); a no-op elsewhere or on
/// failure (e.g. a restricted cpuset), which is logged.
pub(crate) fn pin_to_cpu(cpu: usize) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is a plain bitmask for which all-zero is valid;
        // CPU_SET writes inside it (it ignores CPUs beyond CPU_SETSIZE);
        // sched_setaffinity(0, ..) reads `size_of::<cpu_set_t>()` bytes of it
        // and affects only the calling thread.
        let rc = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        if rc != 0 {
            tracing::debug!(cpu, error = %io::Error::last_os_error(), "could not pin media worker");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// What fd `fd` of the calling thread's table is (`/proc/thread-self/fd`'s
/// link: `socket:[…]`, `anon_inode:[eventpoll]`, a path...); `None` when
/// the number is not open.
#[cfg(target_os = "linux")]
fn fd_link(fd: std::os::fd::RawFd) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/thread-self/fd/{fd}")).ok()?;
    link.into_os_string().into_string().ok()
}

/// Open fds of the calling thread's fd table (Linux: `/proc/thread-self/fd`),
/// without the listing's own directory fd.
#[cfg(target_os = "linux")]
pub(crate) fn open_fds() -> Option<Vec<std::os::fd::RawFd>> {
    let dir = std::fs::read_dir("/proc/thread-self/fd").ok()?;
    let mut fds: Vec<std::os::fd::RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory is closed now: its number no longer resolves.
    fds.retain(|&fd| fd_link(fd).is_some());
    fds.sort_unstable();
    Some(fds)
}

/// The fds in `after` and not in `before` (what building a tokio runtime
/// with I/O opened, while tokio's process-wide signal pipe already
/// existed) if they are exactly the runtime's own, as tokio 1.x with mio
/// 1.x opens them: its epoll instance and the registry's duplicate of it,
/// its eventfd waker, and its signal driver's duplicate of the signal pipe
/// (a Unix socket). `None` otherwise: anything else (another thread opened
/// an fd meanwhile, or a tokio that opens something else) is ambiguous, and
/// the worker then keeps the shared table.
#[cfg(target_os = "linux")]
pub(crate) fn runtime_fds(
    before: &[std::os::fd::RawFd],
    after: &[std::os::fd::RawFd],
) -> Option<Vec<std::os::fd::RawFd>> {
    let (mut epoll, mut eventfd, mut socket) = (0, 0, 0);
    let mut keep = vec![];
    for &fd in after.iter().filter(|fd| !before.contains(fd)) {
        let Some(link) = fd_link(fd) else {
            continue;
        };
        match link.as_str() {
            "anon_inode:[eventpoll]" => epoll += 1,
            "anon_inode:[eventfd]" => eventfd += 1,
            l if l.starts_with("socket:[") => socket += 1,
            _ => return None,
        }
        keep.push(fd);
    }
    ((epoll, eventfd, socket) == (2, 1, 1)).then_some(keep)
}

/// Gives the calling thread a private copy of its fd table
/// (`unshare(CLONE_FILES)`) and closes every fd ≥ 3 of the copy except
/// `keep`. Sockets opened afterwards exist in this thread's table only, so
/// `RLIMIT_NOFILE` (which bounds fd numbers per table) applies to this
/// thread's sockets alone. Err: the thread still shares the process table.
#[cfg(target_os = "linux")]
pub(crate) fn enter_private_fd_table(keep: &[std::os::fd::RawFd]) -> io::Result<()> {
    // SAFETY: unshare(CLONE_FILES) only replaces the calling thread's fd
    // table by a copy of it; it reads and writes no memory of ours.
    if unsafe { libc::unshare(libc::CLONE_FILES) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut keep: Vec<u32> = keep.iter().map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    // Gaps between the kept fds, from 3 up.
    let mut gaps = vec![];
    let mut lo = 3u32;
    for &k in keep.iter().filter(|&&k| k >= 3) {
        if k > lo {
            gaps.push((lo, k - 1));
        }
        lo = k + 1;
    }
    gaps.push((lo, u32::MAX));
    for (first, last) in gaps {
        // SAFETY: close_range(2) closes fds of the calling thread's table,
        // which is now private: the objects of other threads that own
        // these fds own them in the shared table, which is untouched. This
        // thread owns no fd in the range (it has just started; its runtime's
        // fds are in `keep`, and stdio is below 3).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                last as libc::c_uint,
                0 as libc::c_uint,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(e);
            }
            // Kernels before 5.9: close what the listing shows, one by one.
            for fd in open_fds().unwrap_or_default() {
                if fd >= 3 && !keep.contains(&(fd as u32)) {
                    // SAFETY: as for close_range above; EBADF (the
                    // listing's own, already closed fd) is harmless.
                    unsafe { libc::close(fd) };
                }
            }
            break;
        }
    }
    Ok(())
}

/// Removes the runtime's duplicate of tokio's process-wide signal pipe (the
/// one socket among `keep`, the runtime's fds) from the runtime's epoll
/// instance (`keep`'s eventpoll), so that this runtime's signal driver never
/// wakes: signals are for the engine's runtime, whose listeners must not be
/// woken from a private fd table.
#[cfg(target_os = "linux")]
pub(crate) fn mute_signal_driver(keep: &[std::os::fd::RawFd]) -> io::Result<()> {
    let epoll = keep
        .iter()
        .find(|&&fd| fd_link(fd).as_deref() == Some("anon_inode:[eventpoll]"));
    let socket = keep
        .iter()
        .find(|&&fd| fd_link(fd).is_some_and(|l| l.starts_with("socket:[")));
    let (Some(&epoll), Some(&socket)) = (epoll, socket) else {
        return Err(io::Error::other(
            "no epoll or signal socket among the runtime's fds",
        ));
    };
    // SAFETY: EPOLL_CTL_DEL on the runtime's own epoll instance for the
    // runtime's own duplicate of the signal pipe, both open in this table;
    // the event argument may be null for DEL (Linux ≥ 2.6.9). The runtime
    // keeps its registration record; it simply never sees readiness.
    let rc = unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_DEL, socket, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Closes `fds` in the calling thread's table: the shared table's copies of
/// a stopped worker's runtime fds (the worker closed its own copies when it
/// dropped the runtime).
#[cfg(target_os = "linux")]
pub(crate) fn close_shared_copies(fds: &[std::os::fd::RawFd]) {
    for &fd in fds {
        // SAFETY: the runtime that created these fds moved to its worker
        // thread, whose private table held the copies it used; that thread
        // has exited. No object of this process owns the shared table's
        // copies (they were only ever reached through the runtime, by fd
        // number: the engine's wake-ups write the eventfd), so nothing will
        // use these numbers again before they are reused.
        unsafe { libc::close(fd) };
    }
}

/// Blocks asynchronous signals in the calling thread, so that the kernel
/// delivers process-directed signals to other threads. A media worker with
/// a private fd table must not run a handler that writes to an fd by
/// number (tokio's signal handler writes to its pipe: in this table that
/// number is closed, or is one of our sockets). Synchronous faults
/// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) stay unblocked.
#[cfg(target_os = "linux")]
pub(crate) fn block_async_signals() {
    // SAFETY: sigset_t is plain data, initialised by sigfillset before use;
    // sigdelset edits it in place; pthread_sigmask reads it and changes
    // only the calling thread's mask (old mask not wanted: null).
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for sig in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
        ] {
            libc::sigdelset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        tracing::debug!(error = rc, "could not block signals in a media worker");
    }
}
