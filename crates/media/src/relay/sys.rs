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
