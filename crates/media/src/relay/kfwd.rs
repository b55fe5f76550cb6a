//! In-kernel forwarding of established relay streams (Linux, tc/BPF).
//!
//! A relayed RTP packet costs two trips through the network stack when
//! user space forwards it: delivery to our socket, `recvmmsg`, then
//! `sendto` and the whole output path. `perf` put 79 % of the relay's CPU
//! there, so no user-space work could halve it. rtpengine solves this with
//! a kernel module (`xt_RTPENGINE`); we load a small BPF program on the tc
//! ingress hook (`tcx`, Linux ≥ 6.6) of the interfaces the RTP sockets are
//! bound on. Nothing to build or install: the program is assembled here,
//! checked by the kernel's verifier, and goes away with the process.
//!
//! What the program does, per IPv4/UDP packet arriving on such an
//! interface: looks up the destination port in a hash map that only the
//! media workers fill; on a hit, checks the packet is the stream user space
//! handed over (source address and port, RTP version 2, payload type,
//! SSRC), rewrites it exactly as the relay would (source = our other leg's
//! socket, destination = the other leg's remote, SSRC = our outgoing SSRC,
//! sequence and timestamp shifted by the rewriter's offsets, payload type of
//! the other leg), fixes the IP and UDP checksums, counts it, keeps the
//! stream's RFC 3550 interarrival jitter, and either
//! lets the stack deliver it (a destination on this host) or sends it out
//! of the interface the route to the destination uses, the link-layer
//! header filled in from the neighbour table (`bpf_redirect_neigh`; the
//! route is looked up by user space over rtnetlink at hand-over). Anything
//! else — a miss, RTCP, RFC 4733 events, another SSRC or source, IP
//! options, fragments — goes on untouched to our socket, where user space
//! handles it as before.
//!
//! User space keeps everything else (players, DTMF, recording, monitoring,
//! transcoding, RTCP) and takes a stream back before anything changes it;
//! see `session.rs`. IPv4 only: IPv6 streams stay in user space.
#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// One handed-over stream, the map's value (keyed by the destination port,
/// in network order, as a `u32`). Fields the program compares or writes
/// into the packet are kept in network byte order ("raw").
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Destination address to match (raw), 0 for any.
    pub local_ip: u32,
    /// Source address and port the stream must come from (raw).
    pub peer_ip: u32,
    pub peer_port: u16,
    /// Payload type to match, and the one written.
    pub pt_in: u8,
    pub pt_out: u8,
    /// SSRC to match (raw).
    pub ssrc_in: u32,
    /// New source and destination address (raw).
    pub src_ip: u32,
    pub dst_ip: u32,
    /// New source and destination port, as the 4 bytes of the UDP header.
    pub ports: u32,
    /// Outgoing SSRC (raw).
    pub ssrc_out: u32,
    /// Added to the sequence number (low 16 bits) and to the timestamp.
    pub seq_delta: u32,
    pub ts_delta: u32,
    /// 0: deliver locally; otherwise send out of this interface, its
    /// link-layer header filled in by the kernel's neighbour table.
    pub ifindex: u32,
    /// Nanoseconds per RTP clock tick of the incoming stream (125,000 at
    /// 8 kHz), for the interarrival jitter.
    pub ns_per_tick: u32,
    /// Written by the program: packets and RTP bytes forwarded.
    pub packets: u64,
    pub bytes: u64,
    /// Written by the program: CLOCK_MONOTONIC of the last packet, and its
    /// incoming sequence number and timestamp.
    pub last_ns: u64,
    pub last_seq: u32,
    pub last_ts: u32,
    /// Interarrival jitter × 16 in ticks (RFC 3550 A.8), seeded by user
    /// space, then kept by the program; the previous packet's transit time
    /// and whether there was one.
    pub jitter16: u32,
    pub prev_transit: u32,
    pub have_prev: u32,
    pub _reserved: u32,
}

/// Offset of an [`Entry`] field, for the program's loads and stores.
macro_rules! off {
    ($f:ident) => {
        std::mem::offset_of!(Entry, $f) as i16
    };
}

impl Entry {
    /// The entry for a stream from `peer` to our socket at `local`,
    /// forwarded from our socket `src` to `dst`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        local: Ipv4Addr,
        peer: SocketAddrV4,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        pt_in: u8,
        pt_out: u8,
        ssrc_in: u32,
        ssrc_out: u32,
        seq_delta: u16,
        ts_delta: u32,
        ifindex: u32,
        clock_rate: u32,
        jitter16: u32,
    ) -> Entry {
        let raw = |a: Ipv4Addr| u32::from_ne_bytes(a.octets());
        let mut ports = [0u8; 4];
        ports[..2].copy_from_slice(&src.port().to_be_bytes());
        ports[2..].copy_from_slice(&dst.port().to_be_bytes());
        Entry {
            local_ip: raw(local),
            peer_ip: raw(*peer.ip()),
            peer_port: u16::from_ne_bytes(peer.port().to_be_bytes()),
            pt_in,
            pt_out,
            ssrc_in: u32::from_ne_bytes(ssrc_in.to_be_bytes()),
            src_ip: raw(*src.ip()),
            dst_ip: raw(*dst.ip()),
            ports: u32::from_ne_bytes(ports),
            ssrc_out: u32::from_ne_bytes(ssrc_out.to_be_bytes()),
            seq_delta: seq_delta as u32,
            ts_delta,
            ifindex,
            ns_per_tick: 1_000_000_000 / clock_rate.max(1),
            jitter16,
            ..Entry::default()
        }
    }
}

/// The loaded program, its map and its attachments; detached and freed on
/// drop (or when the process ends).
#[derive(Debug)]
pub(crate) struct Kfwd {
    map: OwnedFd,
    _prog: OwnedFd,
    _links: Vec<OwnedFd>,
    routes: Arc<parking_lot::Mutex<RouteCache>>,
}

/// What the workers use: the map's fd *number* (kept open in their private
/// fd tables) and a cache of route lookups.
#[derive(Debug, Clone)]
pub(crate) struct KfwdMap {
    fd: RawFd,
    routes: Arc<parking_lot::Mutex<RouteCache>>,
}

/// Where the kernel sends packets for an address: delivered here
/// (`ifindex` 0) or out of an interface, with the source it prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub ifindex: u32,
    pub src: Option<Ipv4Addr>,
}

/// Route lookups are one netlink round trip each; a stream's destination
/// is looked up once per hand-over, and answers are kept a few seconds.
#[derive(Debug, Default)]
struct RouteCache {
    map: std::collections::HashMap<Ipv4Addr, (Route, std::time::Instant)>,
}

const ROUTE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const ROUTE_CACHE_MAX: usize = 4096;

impl Kfwd {
    /// Loads the program for sockets bound on `bind` (an IPv4 address or
    /// the wildcard) with room for `entries` streams, and attaches it to
    /// the ingress of every interface holding that address (all of them for
    /// the wildcard).
    pub(crate) fn load(bind: IpAddr, entries: u32) -> io::Result<Kfwd> {
        let IpAddr::V4(bind) = bind else {
            return Err(io::Error::other("IPv6 media address (IPv4 only)"));
        };
        let addrs = interface_addrs()?;
        let ifaces: Vec<u32> = {
            let mut v: Vec<u32> = addrs
                .iter()
                .filter(|(_, a)| bind.is_unspecified() || *a == bind)
                .map(|(i, _)| *i)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if ifaces.is_empty() {
            return Err(io::Error::other(format!("no interface holds {bind}")));
        }
        let map = map_create(entries.max(16))?;
        let prog = prog_load(&program(map.as_raw_fd()))?;
        let links = ifaces
            .iter()
            .map(|&ifindex| tcx_attach(&prog, ifindex))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Kfwd {
            map,
            _prog: prog,
            _links: links,
            routes: Arc::default(),
        })
    }

    /// The handle for the workers (and sessions); valid while `self`
    /// lives. All share one route cache.
    pub(crate) fn handle(&self) -> KfwdMap {
        KfwdMap {
            fd: self.map.as_raw_fd(),
            routes: self.routes.clone(),
        }
    }
}

impl KfwdMap {
    /// The fd number workers must keep in their private tables.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// How the kernel reaches `dst` now (cached for a few seconds).
    pub(crate) fn route(&self, dst: Ipv4Addr) -> Option<Route> {
        let now = std::time::Instant::now();
        let mut c = self.routes.lock();
        if let Some((r, at)) = c.map.get(&dst) {
            if now.duration_since(*at) < ROUTE_TTL {
                return Some(*r);
            }
        }
        let r = match route_lookup(dst) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(%dst, error = %e, "route lookup failed");
                return None;
            }
        };
        if c.map.len() >= ROUTE_CACHE_MAX {
            c.map.clear();
        }
        c.map.insert(dst, (r, now));
        Some(r)
    }

    pub(crate) fn install(&self, port: u16, e: &Entry) -> io::Result<()> {
        let key = key(port);
        let mut a = self.elem(&key, e as *const Entry as u64);
        a.u64(24, 0); // BPF_ANY
        bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
    }

    pub(crate) fn read(&self, port: u16) -> Option<Entry> {
        self.lookup(BPF_MAP_LOOKUP_ELEM, port)
    }

    /// Reads and deletes the entry at once.
    pub(crate) fn take(&self, port: u16) -> Option<Entry> {
        self.lookup(BPF_MAP_LOOKUP_AND_DELETE_ELEM, port)
    }

    fn lookup(&self, cmd: i32, port: u16) -> Option<Entry> {
        let key = key(port);
        let mut e = Entry::default();
        let mut a = self.elem(&key, &mut e as *mut Entry as u64);
        bpf(cmd, &mut a).ok().map(|_| e)
    }

    /// The attributes of an element command on this map: `key` and the
    /// value's address (both must outlive the call).
    fn elem(&self, key: &u32, value: u64) -> Attr {
        let mut a = Attr::new();
        a.u32(0, self.fd as u32);
        a.u64(8, key as *const u32 as u64);
        a.u64(16, value);
        a
    }
}

/// A session's hand-overs, kept in its [`crate::SessionStats`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub map: Option<KfwdMap>,
    /// Per relaying leg (A, B): its stream's entry port and the counters
    /// already folded into the session's stats.
    pub live: [Option<Counted>; 2],
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Counted {
    pub port: u16,
    pub packets: u64,
    pub bytes: u64,
}

impl Counted {
    /// `e` and its packets and bytes not counted yet.
    fn since(&self, e: Entry) -> (Entry, u64, u64) {
        (
            e,
            e.packets.saturating_sub(self.packets),
            e.bytes.saturating_sub(self.bytes),
        )
    }
}

impl Shared {
    /// The kernel's entry for leg `i`'s stream and its packets and bytes
    /// not folded yet.
    pub(crate) fn unfolded(&self, i: usize) -> Option<(Entry, u64, u64)> {
        let c = self.live[i]?;
        Some(c.since(self.map.as_ref()?.read(c.port)?))
    }

    /// Marks what [`Shared::unfolded`] returns as folded, and returns it;
    /// with `take_back`, reads and deletes the entry in one step
    /// (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`) and forgets it. A packet being
    /// forwarded on another CPU at that very instant may go uncounted.
    pub(crate) fn fold(&mut self, i: usize, take_back: bool) -> Option<(Entry, u64, u64)> {
        let c = self.live[i]?;
        let map = self.map.as_ref()?;
        let e = if take_back {
            self.live[i] = None;
            map.take(c.port)?
        } else {
            let e = map.read(c.port)?;
            self.live[i] = Some(Counted {
                packets: e.packets,
                bytes: e.bytes,
                ..c
            });
            e
        };
        Some(c.since(e))
    }
}

/// Nanoseconds of CLOCK_MONOTONIC (`bpf_ktime_get_ns`'s clock, and
/// `Instant`'s on Linux).
#[cfg(target_os = "linux")]
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn monotonic_ns() -> u64 {
    0
}

fn key(port: u16) -> u32 {
    u16::from_ne_bytes(port.to_be_bytes()) as u32
}

// ---- bpf(2) ----

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_LOOKUP_ELEM: i32 = 1;
const BPF_MAP_UPDATE_ELEM: i32 = 2;
const BPF_PROG_LOAD: i32 = 5;
const BPF_LINK_CREATE: i32 = 28;
const BPF_MAP_LOOKUP_AND_DELETE_ELEM: i32 = 21;
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
const BPF_TCX_INGRESS: u32 = 46;

/// `union bpf_attr`, as bytes (144 in the 6.x headers).
struct Attr([u64; 18]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 18])
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: [u64; 18] is 144 initialised bytes with no padding.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), 144) }
    }
    fn u32(&mut self, off: usize, v: u32) {
        self.bytes()[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn u64(&mut self, off: usize, v: u64) {
        self.bytes()[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
}

#[cfg(not(target_os = "linux"))]
fn bpf(_cmd: i32, _a: &mut Attr) -> io::Result<i32> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(target_os = "linux")]
fn bpf(cmd: i32, a: &mut Attr) -> io::Result<i32> {
    // SAFETY: `a` is a zero-filled bpf_attr of the size passed; the
    // pointers stored in it (keys, values, instructions, log buffer) point
    // to live memory of the right size for the command, owned by our
    // caller for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            a.0.as_mut_ptr(),
            std::mem::size_of::<Attr>() as u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as i32)
    }
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by bpf(2) and is owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn map_create(entries: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, BPF_MAP_TYPE_HASH);
    a.u32(4, 4);
    a.u32(8, std::mem::size_of::<Entry>() as u32);
    a.u32(12, entries);
    a.bytes()[28..28 + 7].copy_from_slice(b"sb_kfwd");
    bpf(BPF_MAP_CREATE, &mut a).map(owned)
}

fn prog_load(insns: &[u64]) -> io::Result<OwnedFd> {
    let license = b"Dual MIT/GPL\0";
    let mut log = vec![0u8; 1 << 16];
    let mut a = Attr::new();
    a.u32(0, BPF_PROG_TYPE_SCHED_CLS);
    a.u32(4, insns.len() as u32);
    a.u64(8, insns.as_ptr() as u64);
    a.u64(16, license.as_ptr() as u64);
    a.u32(24, 1);
    a.u32(28, log.len() as u32);
    a.u64(32, log.as_mut_ptr() as u64);
    a.bytes()[48..48 + 7].copy_from_slice(b"sb_kfwd");
    a.u32(68, BPF_TCX_INGRESS);
    bpf(BPF_PROG_LOAD, &mut a).map(owned).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let tail = String::from_utf8_lossy(&log[end.saturating_sub(600)..end]).into_owned();
        io::Error::new(e.kind(), format!("{e}; verifier: {tail}"))
    })
}

fn tcx_attach(prog: &OwnedFd, ifindex: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32);
    a.u32(4, ifindex);
    a.u32(8, BPF_TCX_INGRESS);
    bpf(BPF_LINK_CREATE, &mut a).map(owned)
}

#[cfg(not(target_os = "linux"))]
fn route_lookup(_dst: Ipv4Addr) -> io::Result<Route> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Asks the kernel (rtnetlink `RTM_GETROUTE`) how it reaches `dst`.
#[cfg(target_os = "linux")]
fn route_lookup(dst: Ipv4Addr) -> io::Result<Route> {
    const RTM_NEWROUTE: u16 = 24;
    const RTM_GETROUTE: u16 = 26;
    const NLMSG_ERROR: u16 = 2;
    const RTN_LOCAL: u8 = 2;
    const RTA_DST: u16 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_PREFSRC: u16 = 7;
    let mut req = [0u8; 36];
    req[0..4].copy_from_slice(&36u32.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETROUTE.to_ne_bytes());
    req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = libc::AF_INET as u8;
    req[17] = 32; // dst_len
    req[28..30].copy_from_slice(&8u16.to_ne_bytes());
    req[30..32].copy_from_slice(&RTA_DST.to_ne_bytes());
    req[32..36].copy_from_slice(&dst.octets());
    // SAFETY: a plain socket(2); the fd is owned by `sock` from here on.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let sock = owned(fd);
    // SAFETY: `req` is a complete request of the length passed; the
    // kernel's netlink address is the default (all-zero) sockaddr_nl.
    let sent = unsafe {
        let mut to: libc::sockaddr_nl = std::mem::zeroed();
        to.nl_family = libc::AF_NETLINK as u16;
        libc::sendto(
            sock.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&to as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 4096];
    // SAFETY: receives into `buf`, of the length passed.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let msg = &buf[..n as usize];
    let bad = || io::Error::other("malformed RTM_NEWROUTE answer");
    if msg.len() < 28 {
        return Err(bad());
    }
    let kind = u16::from_ne_bytes([msg[4], msg[5]]);
    if kind == NLMSG_ERROR {
        let errno = i32::from_ne_bytes([msg[16], msg[17], msg[18], msg[19]]);
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if kind != RTM_NEWROUTE {
        return Err(bad());
    }
    let len = (u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize).min(msg.len());
    let local = msg[16 + 7] == RTN_LOCAL;
    let mut route = Route {
        ifindex: 0,
        src: None,
    };
    let mut at = 28;
    while at + 4 <= len {
        let alen = u16::from_ne_bytes([msg[at], msg[at + 1]]) as usize;
        let atype = u16::from_ne_bytes([msg[at + 2], msg[at + 3]]);
        if alen < 4 || at + alen > len {
            break;
        }
        let data = &msg[at + 4..at + alen];
        match (atype, data.len()) {
            (RTA_OIF, 4) if !local => {
                route.ifindex = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
            }
            (RTA_PREFSRC, 4) => route.src = Some(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            _ => {}
        }
        at += (alen + 3) & !3;
    }
    if !local && route.ifindex == 0 {
        return Err(bad());
    }
    Ok(route)
}

#[cfg(not(target_os = "linux"))]
fn interface_addrs() -> io::Result<Vec<(u32, Ipv4Addr)>> {
    Ok(vec![])
}

/// (interface index, IPv4 address) of every configured IPv4 address.
#[cfg(target_os = "linux")]
fn interface_addrs() -> io::Result<Vec<(u32, Ipv4Addr)>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = vec![];
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; ifa_addr, when not null and AF_INET, points to
        // a sockaddr_in; ifa_name is a C string.
        unsafe {
            let ifa = &*p;
            if !ifa.ifa_addr.is_null() && (*ifa.ifa_addr).sa_family as i32 == libc::AF_INET {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let idx = libc::if_nametoindex(ifa.ifa_name);
                if idx != 0 {
                    out.push((idx, ip));
                }
            }
            p = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

// ---- the program ----

/// Registers.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;
const R7: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;
const FP: u8 = 10;

/// A tiny eBPF assembler: just what the program needs, with forward labels.
#[derive(Default)]
struct Asm {
    code: Vec<u64>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, usize)>,
}

const W: u8 = 0x00; // size: u32
const H: u8 = 0x08; // u16
const B: u8 = 0x10; // u8
const DW: u8 = 0x18; // u64

impl Asm {
    fn raw(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.code.push(
            code as u64
                | ((dst as u64) << 8)
                | ((src as u64) << 12)
                | ((off as u16 as u64) << 16)
                | ((imm as u32 as u64) << 32),
        );
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn bind(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    /// dst = *(size *)(src + off)
    fn ldx(&mut self, size: u8, dst: u8, src: u8, off: i16) {
        self.raw(0x61 | size, dst, src, off, 0);
    }
    /// *(size *)(dst + off) = src
    fn stx(&mut self, size: u8, dst: u8, off: i16, src: u8) {
        self.raw(0x63 | size, dst, src, off, 0);
    }
    /// lock *(u64 *)(dst + off) += src
    fn atomic_add64(&mut self, dst: u8, off: i16, src: u8) {
        self.raw(0xdb, dst, src, off, 0);
    }
    fn mov(&mut self, dst: u8, src: u8) {
        self.raw(0xbf, dst, src, 0, 0);
    }
    fn movi(&mut self, dst: u8, imm: i32) {
        self.raw(0xb7, dst, 0, 0, imm);
    }
    fn addi(&mut self, dst: u8, imm: i32) {
        self.raw(0x07, dst, 0, 0, imm);
    }
    fn add(&mut self, dst: u8, src: u8) {
        self.raw(0x0f, dst, src, 0, 0);
    }
    /// 32-bit AND (zero-extends).
    fn andi32(&mut self, dst: u8, imm: i32) {
        self.raw(0x54, dst, 0, 0, imm);
    }
    fn sub(&mut self, dst: u8, src: u8) {
        self.raw(0x1f, dst, src, 0, 0);
    }
    /// 32-bit subtract (zero-extends).
    fn sub32(&mut self, dst: u8, src: u8) {
        self.raw(0x1c, dst, src, 0, 0);
    }
    /// 32-bit negate (zero-extends).
    fn neg32(&mut self, dst: u8) {
        self.raw(0x84, dst, 0, 0, 0);
    }
    /// Unsigned 64-bit divide (the verifier guards against zero).
    fn div(&mut self, dst: u8, src: u8) {
        self.raw(0x3f, dst, src, 0, 0);
    }
    fn rshi(&mut self, dst: u8, imm: i32) {
        self.raw(0x77, dst, 0, 0, imm);
    }
    fn or(&mut self, dst: u8, src: u8) {
        self.raw(0x4f, dst, src, 0, 0);
    }
    fn lshi(&mut self, dst: u8, imm: i32) {
        self.raw(0x67, dst, 0, 0, imm);
    }
    /// Byte swap to/from network order (`bits` 16 or 32; zero-extends).
    fn be(&mut self, dst: u8, bits: i32) {
        self.raw(0xdc, dst, 0, 0, bits);
    }
    /// r1 = map fd (BPF_PSEUDO_MAP_FD).
    fn ld_map(&mut self, dst: u8, fd: RawFd) {
        self.raw(0x18, dst, 1, 0, fd);
        self.raw(0, 0, 0, 0, 0);
    }
    fn call(&mut self, helper: i32) {
        self.raw(0x85, 0, 0, 0, helper);
    }
    fn exit(&mut self) {
        self.raw(0x95, 0, 0, 0, 0);
    }
    fn jump(&mut self, op: u8, dst: u8, src: Option<u8>, imm: i32, to: usize) {
        self.fixups.push((self.code.len(), to));
        match src {
            Some(s) => self.raw(0x05 | 0x08 | op, dst, s, 0, 0),
            None => self.raw(0x05 | op, dst, 0, 0, imm),
        }
    }
    fn jnei(&mut self, dst: u8, imm: i32, to: usize) {
        self.jump(0x50, dst, None, imm, to);
    }
    fn jne(&mut self, dst: u8, src: u8, to: usize) {
        self.jump(0x50, dst, Some(src), 0, to);
    }
    fn jeqi(&mut self, dst: u8, imm: i32, to: usize) {
        self.jump(0x10, dst, None, imm, to);
    }
    fn jgt(&mut self, dst: u8, src: u8, to: usize) {
        self.jump(0x20, dst, Some(src), 0, to);
    }
    fn jgei(&mut self, dst: u8, imm: i32, to: usize) {
        self.jump(0x30, dst, None, imm, to);
    }
    /// Signed 32-bit `>=` against an immediate (JMP32).
    fn jsge32i(&mut self, dst: u8, imm: i32, to: usize) {
        self.fixups.push((self.code.len(), to));
        self.raw(0x06 | 0x70, dst, 0, 0, imm);
    }
    fn finish(mut self) -> Vec<u64> {
        for (at, l) in std::mem::take(&mut self.fixups) {
            let target = self.labels[l].expect("label bound");
            let off = (target as i64 - at as i64 - 1) as i16;
            self.code[at] = (self.code[at] & !(0xffff << 16)) | ((off as u16 as u64) << 16);
        }
        self.code
    }
}

const HELPER_MAP_LOOKUP: i32 = 1;
const HELPER_KTIME_GET_NS: i32 = 5;
const HELPER_L3_CSUM_REPLACE: i32 = 10;
const HELPER_L4_CSUM_REPLACE: i32 = 11;
const HELPER_REDIRECT_NEIGH: i32 = 152;
/// `BPF_F_PSEUDO_HDR`, `BPF_F_MARK_MANGLED_0` and the field size.
const CSUM_PSEUDO: i32 = 0x10;
const CSUM_MANGLED_0: i32 = 0x20;

/// Offsets in the frame: Ethernet header (14), IPv4 without options (20),
/// UDP (8), RTP fixed header (12).
const IP: i16 = 14;
const UDP: i16 = IP + 20;
const RTP: i16 = UDP + 8;
const END: i32 = RTP as i32 + 12;

/// The tc program. Returns `TCX_NEXT` (-1) for anything it does not
/// forward, `TCX_PASS` (0) after rewriting a packet for local delivery.
fn program(map: RawFd) -> Vec<u64> {
    let mut a = Asm::default();
    let next = a.label();
    let shot = a.label();
    // r6 = skb; r2 = data, r3 = data_end, checked to hold END bytes.
    let load_ptrs = |a: &mut Asm, fail: usize| {
        a.ldx(W, R2, R6, 76);
        a.ldx(W, R3, R6, 80);
        a.mov(R4, R2);
        a.addi(R4, END);
        a.jgt(R4, R3, fail);
    };
    a.mov(R6, R1);
    load_ptrs(&mut a, next);
    a.ldx(H, R5, R2, 12); // EtherType
    a.jnei(R5, 0x0008, next); // 0x0800 as read on little endian
    a.ldx(B, R5, R2, IP);
    a.jnei(R5, 0x45, next); // IPv4, no options
    a.ldx(B, R5, R2, IP + 9);
    a.jnei(R5, 17, next); // UDP
    a.ldx(H, R5, R2, IP + 6);
    a.andi32(R5, 0xff3f); // MF and fragment offset
    a.jnei(R5, 0, next);
    // A UDP length too short for an RTP header is user space's (the
    // counters below subtract the UDP header from it).
    a.ldx(H, R5, R2, UDP + 4);
    a.be(R5, 16);
    a.movi(R8, 8 + 12);
    a.jgt(R8, R5, next);
    // key = destination port (raw)
    a.ldx(H, R5, R2, UDP + 2);
    a.stx(W, FP, -4, R5);
    a.ld_map(R1, map);
    a.mov(R2, FP);
    a.addi(R2, -4);
    a.call(HELPER_MAP_LOOKUP);
    a.jeqi(R0, 0, next);
    a.mov(R7, R0);
    load_ptrs(&mut a, next);
    // Destination address (unless the entry takes any).
    let any = a.label();
    a.ldx(W, R5, R7, off!(local_ip));
    a.jeqi(R5, 0, any);
    a.ldx(W, R8, R2, IP + 16);
    a.jne(R5, R8, next);
    a.bind(any);
    // Source address and port.
    a.ldx(W, R5, R2, IP + 12);
    a.ldx(W, R8, R7, off!(peer_ip));
    a.jne(R5, R8, next);
    a.ldx(H, R5, R2, UDP);
    a.ldx(H, R8, R7, off!(peer_port));
    a.jne(R5, R8, next);
    // RTP version 2, payload type, SSRC.
    a.ldx(B, R5, R2, RTP);
    a.andi32(R5, 0xc0);
    a.jnei(R5, 0x80, next);
    a.ldx(B, R5, R2, RTP + 1);
    a.andi32(R5, 0x7f);
    a.ldx(B, R8, R7, off!(pt_in));
    a.jne(R5, R8, next);
    a.ldx(W, R5, R2, RTP + 8);
    a.ldx(W, R8, R7, off!(ssrc_in));
    a.jne(R5, R8, next);
    // Old words to the stack; new first word (marker kept, payload type,
    // sequence + delta) and timestamp computed.
    a.ldx(W, R5, R2, RTP);
    a.stx(W, FP, -16, R5);
    a.mov(R8, R5);
    a.be(R8, 32);
    a.ldx(W, R9, R7, off!(seq_delta));
    a.add(R9, R8);
    a.andi32(R9, 0xffff);
    a.stx(W, R7, off!(last_seq), R8); // low 16 bits: incoming seq (fixed below)
    a.andi32(R8, 0xff80_0000_u32 as i32);
    a.ldx(B, R5, R7, off!(pt_out));
    a.lshi(R5, 16);
    a.or(R8, R5);
    a.or(R8, R9);
    a.be(R8, 32);
    a.stx(W, FP, -20, R8);
    a.ldx(W, R5, R2, RTP + 4);
    a.stx(W, FP, -24, R5);
    a.be(R5, 32);
    a.stx(W, R7, off!(last_ts), R5);
    a.ldx(W, R9, R7, off!(ts_delta));
    a.add(R5, R9);
    a.be(R5, 32);
    a.stx(W, FP, -28, R5);
    a.ldx(W, R5, R2, RTP + 8);
    a.stx(W, FP, -32, R5);
    a.ldx(W, R5, R2, UDP);
    a.stx(W, FP, -36, R5);
    a.ldx(W, R5, R2, IP + 12);
    a.stx(W, FP, -40, R5);
    a.ldx(W, R5, R2, IP + 16);
    a.stx(W, FP, -44, R5);
    // Counters: sequence number in host order, packets, RTP bytes.
    a.ldx(W, R5, R7, off!(last_seq));
    a.andi32(R5, 0xffff);
    a.stx(W, R7, off!(last_seq), R5);
    a.ldx(H, R5, R2, UDP + 4);
    a.be(R5, 16);
    a.addi(R5, -8);
    a.atomic_add64(R7, off!(bytes), R5);
    a.movi(R5, 1);
    a.atomic_add64(R7, off!(packets), R5);
    a.call(HELPER_KTIME_GET_NS);
    a.stx(DW, R7, off!(last_ns), R0);
    // Interarrival jitter (RFC 3550 A.8, 32-bit arithmetic as user space):
    // transit = arrival in ticks - timestamp; J += |D| - (J + 8) / 16.
    let jitter_done = a.label();
    a.ldx(W, R1, R7, off!(ns_per_tick));
    a.jeqi(R1, 0, jitter_done);
    a.div(R0, R1);
    a.ldx(W, R2, R7, off!(last_ts));
    a.sub32(R0, R2);
    a.ldx(W, R3, R7, off!(prev_transit));
    a.stx(W, R7, off!(prev_transit), R0);
    a.ldx(W, R4, R7, off!(have_prev));
    let first = a.label();
    a.jeqi(R4, 0, first);
    a.sub32(R0, R3);
    let positive = a.label();
    a.jsge32i(R0, 0, positive);
    a.neg32(R0);
    a.bind(positive);
    a.jgei(R0, 1 << 24, jitter_done); // a timestamp jump, not jitter
    a.ldx(W, R5, R7, off!(jitter16));
    a.mov(R1, R5);
    a.addi(R1, 8);
    a.rshi(R1, 4);
    a.add(R5, R0);
    a.sub(R5, R1);
    a.stx(W, R7, off!(jitter16), R5);
    a.jump(0x00, 0, None, 0, jitter_done);
    a.bind(first);
    a.movi(R4, 1);
    a.stx(W, R7, off!(have_prev), R4);
    a.bind(jitter_done);
    // Checksums: UDP (words of the UDP header and RTP header; addresses
    // through the pseudo header), then IPv4.
    let csum = |a: &mut Asm, helper: i32, at: i16, old: i16, new: (u8, i16), flags: i32| {
        a.mov(R1, R6);
        a.movi(R2, at as i32);
        a.ldx(W, R3, FP, old);
        a.ldx(W, R4, new.0, new.1);
        a.movi(R5, flags);
        a.call(helper);
        a.jnei(R0, 0, shot);
    };
    let l4 = UDP + 6;
    let f = 4 | CSUM_MANGLED_0;
    csum(&mut a, HELPER_L4_CSUM_REPLACE, l4, -16, (FP, -20), f);
    csum(&mut a, HELPER_L4_CSUM_REPLACE, l4, -24, (FP, -28), f);
    csum(
        &mut a,
        HELPER_L4_CSUM_REPLACE,
        l4,
        -32,
        (R7, off!(ssrc_out)),
        f,
    );
    csum(
        &mut a,
        HELPER_L4_CSUM_REPLACE,
        l4,
        -36,
        (R7, off!(ports)),
        f,
    );
    csum(
        &mut a,
        HELPER_L4_CSUM_REPLACE,
        l4,
        -40,
        (R7, off!(src_ip)),
        f | CSUM_PSEUDO,
    );
    csum(
        &mut a,
        HELPER_L4_CSUM_REPLACE,
        l4,
        -44,
        (R7, off!(dst_ip)),
        f | CSUM_PSEUDO,
    );
    csum(
        &mut a,
        HELPER_L3_CSUM_REPLACE,
        IP + 10,
        -40,
        (R7, off!(src_ip)),
        4,
    );
    csum(
        &mut a,
        HELPER_L3_CSUM_REPLACE,
        IP + 10,
        -44,
        (R7, off!(dst_ip)),
        4,
    );
    // The new bytes.
    load_ptrs(&mut a, shot);
    for (from, off, to) in [
        (R7, off!(src_ip), IP + 12),
        (R7, off!(dst_ip), IP + 16),
        (R7, off!(ports), UDP),
        (FP, -20, RTP),
        (FP, -28, RTP + 4),
        (R7, off!(ssrc_out), RTP + 8),
    ] {
        a.ldx(W, R5, from, off);
        a.stx(W, R2, to, R5);
    }
    // Out of another host's interface, or delivered here.
    let local = a.label();
    a.ldx(W, R1, R7, off!(ifindex));
    a.jeqi(R1, 0, local);
    a.movi(R2, 0); // no next hop given: the kernel looks it up
    a.movi(R3, 0);
    a.movi(R4, 0);
    a.call(HELPER_REDIRECT_NEIGH); // TC_ACT_REDIRECT, or TC_ACT_SHOT
    a.exit();
    a.bind(local);
    a.movi(R0, 0); // TCX_PASS: delivered to the new destination
    a.exit();
    a.bind(next);
    a.movi(R0, -1); // TCX_NEXT
    a.exit();
    a.bind(shot);
    a.movi(R0, 2); // TCX_DROP (a checksum helper failed: never seen)
    a.exit();
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool) -> Vec<u8> {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0xd5; 160]);
        p
    }

    fn v4(s: &UdpSocket) -> SocketAddrV4 {
        match s.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            _ => unreachable!(),
        }
    }

    /// The program passes the kernel's verifier and forwards, rewritten,
    /// exactly the packets of the handed-over stream; the rest reach our
    /// socket untouched. Skipped (with a note) where BPF is not allowed.
    #[test]
    fn forwards_and_rewrites_a_handed_over_stream() {
        let k = match Kfwd::load(IpAddr::V4(Ipv4Addr::LOCALHOST), 64) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("kernel forwarding unavailable here, test skipped: {e}");
                return;
            }
        };
        let m = k.handle();
        let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay_a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay_b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&relay_a, &agent] {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        }
        let e = Entry::new(
            Ipv4Addr::LOCALHOST,
            v4(&caller),
            v4(&relay_b),
            v4(&agent),
            0,
            8,
            0x1111_2222,
            0xaaaa_bbbb,
            1000,
            0xffff_0000,
            0,
            8000,
            0,
        );
        m.install(v4(&relay_a).port(), &e).unwrap();
        let mut buf = [0u8; 2048];
        for k in 0..5u16 {
            let seq = 65534u16.wrapping_add(k);
            let ts = 160 * k as u32;
            caller
                .send_to(
                    &rtp(0, seq, ts, 0x1111_2222, k == 0),
                    relay_a.local_addr().unwrap(),
                )
                .unwrap();
            let (n, from) = agent.recv_from(&mut buf).unwrap();
            assert_eq!(from, relay_b.local_addr().unwrap());
            let want = rtp(
                8,
                seq.wrapping_add(1000),
                ts.wrapping_add(0xffff_0000),
                0xaaaa_bbbb,
                k == 0,
            );
            assert_eq!(&buf[..n], &want[..]);
        }
        let got = m.read(v4(&relay_a).port()).unwrap();
        assert_eq!((got.packets, got.bytes), (5, 5 * 172));
        assert_eq!((got.last_seq, got.last_ts), (2, 640));
        assert!(got.last_ns > 0 && got.last_ns <= monotonic_ns());
        // Another SSRC, another payload type (an RFC 4733 event) and
        // another source are user space's: they reach the relay socket.
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = relay_a.local_addr().unwrap();
        // Too short for an RTP header: user space's.
        caller.send_to(&[0x80, 0, 0, 1], to).unwrap();
        let (n, _) = relay_a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[0x80, 0, 0, 1]);
        caller
            .send_to(&rtp(0, 1, 1, 0x3333_4444, false), to)
            .unwrap();
        caller
            .send_to(&rtp(101, 1, 1, 0x1111_2222, false), to)
            .unwrap();
        stranger
            .send_to(&rtp(0, 1, 1, 0x1111_2222, false), to)
            .unwrap();
        for want in [
            rtp(0, 1, 1, 0x3333_4444, false),
            rtp(101, 1, 1, 0x1111_2222, false),
            rtp(0, 1, 1, 0x1111_2222, false),
        ] {
            let (n, _) = relay_a.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &want[..]);
        }
        // Taken back (read and deleted at once): packets reach the relay
        // socket again.
        assert_eq!(m.take(v4(&relay_a).port()).map(|e| e.packets), Some(5));
        assert!(m.read(v4(&relay_a).port()).is_none());
        caller
            .send_to(&rtp(0, 3, 800, 0x1111_2222, false), to)
            .unwrap();
        let (n, _) = relay_a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &rtp(0, 3, 800, 0x1111_2222, false)[..]);
    }
}
