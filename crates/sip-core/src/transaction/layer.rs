//! The transaction table, its timers and its output queues.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// Maps keyed by wire values (branch, Call-ID): foldhash with a random
/// seed per map, so a peer cannot aim keys at one bucket.
type WireMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::key::{method_token, response_dest, stamp_via, via_needs_stamp, TxKey};
use super::state::{ClientState, ServerState};
use super::{ClientAction, ServerAction, Timers, Transmit, TxEvent};
use crate::builder::{RequestBuilder, ResponseBuilder};
use crate::header::HeaderName;
use crate::message::Message;
use crate::method::Method;

/// Timer D for unreliable transports (RFC 3261 Table 4: > 32 s).
const TIMER_D: Duration = Duration::from_secs(32);
/// Default Timer C (RFC 3261 §16.6: greater than 3 minutes).
const DEFAULT_TIMER_C: Duration = Duration::from_secs(181);
/// The INVITE server sends 100 Trying if the TU is silent this long (§17.2.1).
const TRYING_DELAY: Duration = Duration::from_millis(200);
/// Distinct provisional responses / 2xx To tags remembered per client
/// transaction (bounds memory against a peer that varies them).
const SEEN_LIMIT: usize = 16;

/// The timers of §17 plus the layer's own (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    A,
    B,
    C,
    /// 64*T1 after a CANCEL (or Timer C) without a final response.
    CancelGuard,
    D,
    E,
    F,
    K,
    M,
    G,
    H,
    I,
    J,
    L,
    /// 2xx retransmission in Accepted (§13.3.1.4).
    Ok2xx,
    /// Automatic 100 Trying.
    Trying,
    /// A non-INVITE server transaction the TU never answered.
    ServerGuard,
}

// What a transaction keeps, by state (issue #7: at 1,000 calls/s some
// 100,000 transactions linger for Timers D/I/J/K/L/M while ≈1,100 calls are
// up, so a lingering transaction keeps only its key, its timers and what it
// may have to send again):
//
// | transaction   | state                    | keeps                          |
// |---------------|--------------------------|--------------------------------|
// | client        | Calling/Trying/Proceeding| the request (Timers A/E)       |
// | client INVITE | Completed (Timer D)      | the ACK, for retransmitted finals |
// | client INVITE | Accepted (Timer M)       | the To tags of 2xx delivered   |
// | client non-INV| Completed (Timer K)      | nothing                        |
// | server INVITE | Proceeding, no response  | the INVITE (to write 100)      |
// | server        | Proceeding/Completed     | the last response              |
// | server INVITE | Accepted, 2xx not ACKed  | the 2xx, Call-ID and CSeq      |
// | server INVITE | Accepted, ACKed (L)      | nothing                        |
// | server INVITE | Confirmed (Timer I)      | nothing                        |
//
// The layer never holds a slice of a received datagram past Proceeding
// (keys, tags and Call-IDs are copied), so a shell that reads into a large
// buffer pins it at most until the TU answers.

#[derive(Debug)]
struct ClientTx {
    state: ClientState,
    /// Re-sent by Timers A and E; dropped at the final response.
    request: Option<Bytes>,
    /// INVITE in Completed: the ACK re-sent for each retransmitted non-2xx.
    ack: Option<Bytes>,
    /// (status, To tag, RSeq) of provisionals delivered; emptied at the
    /// final response.
    seen: Vec<(u16, Box<str>, Option<u32>)>,
    /// To tags of 2xx delivered (forks).
    ok_tags: Vec<Box<str>>,
}

impl ClientTx {
    /// A final response arrived: nothing is retransmitted any more.
    fn finish(&mut self) -> Option<Bytes> {
        self.seen = Vec::new();
        self.request.take()
    }
}

#[derive(Debug)]
struct ServerTx {
    state: ServerState,
    /// The INVITE, kept to write 100 Trying until the first response.
    request: Option<Box<Message>>,
    /// What a retransmitted request is answered with (and Timers G and
    /// 2xx resend); dropped once the ACK came (Confirmed, or Accepted and
    /// ACKed), when nothing is answered any more.
    last: Option<Bytes>,
    acked: bool,
    /// INVITE: Call-ID and CSeq number, to match the ACK for a 2xx; kept
    /// while the 2xx may await it (an entry in `awaiting_ack`).
    dialog: Option<Dialog>,
    /// Source to stamp into the top Via of responses (`received`/`rport`).
    stamp: Option<SocketAddr>,
}

impl ServerTx {
    fn stamped(&self, response: Bytes) -> Bytes {
        match self.stamp {
            Some(src) => stamp_via(&response, src).map_or(response, Bytes::from),
            None => response,
        }
    }

    fn trying(&self) -> Option<Bytes> {
        let req = self.request.as_ref()?;
        Some(self.stamped(Bytes::from(ResponseBuilder::new(req, 100).build())))
    }

    /// The 2xx no longer needs resending (its ACK, or a BYE, came).
    fn ack_received(&mut self) {
        self.acked = true;
        self.last = None;
        self.dialog = None;
    }
}

#[derive(Debug)]
enum Machine {
    Client(ClientTx),
    Server(ServerTx),
}

#[derive(Debug)]
struct Tx {
    invite: bool,
    dest: SocketAddr,
    reliable: bool,
    /// Armed timers.
    timers: Armed,
    /// The current retransmission interval (A, E, G, 2xx).
    interval: Duration,
    machine: Machine,
}

/// A heap entry: when, its sequence number, which timer, whose. Entries
/// of timers disarmed or re-armed since stay in the heap until they come
/// up (or reach its top) and are skipped; each holds a clone of the key,
/// which shares the key's text.
type Entry = Reverse<(Instant, u64, Timer, TxKey)>;

/// Most timers armed at once on one transaction: three (an INVITE client's
/// A, B and the CANCEL guard; a server's Ok2xx and L, or G and H).
const ARMED_SLOTS: usize = 4;

/// The timers armed on one transaction, inline: each with the low 32 bits
/// of the sequence number of its live heap entry (an older entry of the
/// same timer, re-armed since, is stale; 2^32 arms of one timer of one
/// transaction while its old entry is still queued cannot happen).
#[derive(Debug, Default, Clone, Copy)]
struct Armed([Option<(Timer, u32)>; ARMED_SLOTS]);

impl Armed {
    fn set(&mut self, timer: Timer, seq: u64) {
        let slot = self
            .0
            .iter()
            .position(|s| matches!(s, Some((t, _)) if *t == timer))
            .or_else(|| self.0.iter().position(Option::is_none));
        debug_assert!(slot.is_some(), "more than {ARMED_SLOTS} timers armed");
        self.0[slot.unwrap_or(0)] = Some((timer, seq as u32));
    }

    fn clear(&mut self, timers: &[Timer]) {
        for s in &mut self.0 {
            if matches!(s, Some((t, _)) if timers.contains(t)) {
                *s = None;
            }
        }
    }

    fn is_armed(&self, timer: Timer) -> bool {
        self.0
            .iter()
            .any(|s| matches!(s, Some((t, _)) if *t == timer))
    }

    /// The slot of the live entry `(timer, seq)`.
    fn live(&self, timer: Timer, seq: u64) -> Option<usize> {
        self.0.iter().position(|s| *s == Some((timer, seq as u32)))
    }
}

#[derive(Debug, Default)]
struct Sched {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Sched {
    fn arm(&mut self, armed: &mut Armed, key: &TxKey, timer: Timer, at: Instant) {
        self.seq += 1;
        armed.set(timer, self.seq);
        self.heap.push(Reverse((at, self.seq, timer, key.clone())));
    }
}

fn disarm(armed: &mut Armed, timers: &[Timer]) {
    armed.clear(timers);
}

fn is_armed(armed: &Armed, timer: Timer) -> bool {
    armed.is_armed(timer)
}

fn push(q: &mut VecDeque<Transmit>, dest: SocketAddr, data: Bytes, reliable: bool) {
    q.push_back(Transmit {
        dest,
        data,
        reliable,
    });
}

/// Call-ID and CSeq number of an INVITE.
type Dialog = (Box<str>, u32);

/// Every transaction of one node. See the [module docs](super).
#[derive(Debug)]
pub struct TransactionLayer {
    timers: Timers,
    timer_c: Duration,
    txs: WireMap<TxKey, Tx>,
    sched: Sched,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
    /// INVITE server transactions whose 2xx awaits its ACK.
    awaiting_ack: WireMap<Dialog, TxKey>,
}

impl TransactionLayer {
    pub fn new(timers: Timers) -> Self {
        TransactionLayer {
            timers,
            timer_c: DEFAULT_TIMER_C,
            txs: WireMap::default(),
            sched: Sched::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            awaiting_ack: WireMap::default(),
        }
    }

    /// Sets Timer C, the longest an INVITE we sent may stay in Proceeding
    /// without a new provisional response (default 181 s).
    pub fn with_timer_c(mut self, d: Duration) -> Self {
        self.timer_c = d;
        self
    }

    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// Live transactions. Every transaction terminates on its own once the
    /// TU has sent a final response to each INVITE it received.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub fn client_state(&self, key: &TxKey) -> Option<ClientState> {
        match &self.txs.get(key)?.machine {
            Machine::Client(c) => Some(c.state),
            Machine::Server(_) => None,
        }
    }

    pub fn server_state(&self, key: &TxKey) -> Option<ServerState> {
        match &self.txs.get(key)?.machine {
            Machine::Server(s) => Some(s.state),
            Machine::Client(_) => None,
        }
    }

    /// The key as the table holds it. Timers are armed with it, so that
    /// their heap entries share its text: a key rebuilt from a message (a
    /// response, an ACK) has a copy of its own that would live as long.
    fn stored(&self, key: &TxKey) -> Option<TxKey> {
        self.txs.get_key_value(key).map(|(k, _)| k.clone())
    }

    fn terminate(&mut self, key: &TxKey) {
        if let Some(tx) = self.txs.remove(key) {
            if let Machine::Server(ServerTx {
                dialog: Some(d), ..
            }) = &tx.machine
            {
                if self.awaiting_ack.get(d) == Some(key) {
                    self.awaiting_ack.remove(d);
                }
            }
            self.events.push_back(TxEvent::Terminated(key.clone()));
        }
    }

    /// Drops cancelled timers from the top of the heap so that
    /// [`TransactionLayer::poll_timeout`] names a live deadline.
    fn prune(&mut self) {
        while let Some(Reverse((_, seq, timer, key))) = self.sched.heap.peek() {
            let live = self
                .txs
                .get(key)
                .is_some_and(|tx| tx.timers.live(*timer, *seq).is_some());
            if live {
                break;
            }
            self.sched.heap.pop();
        }
    }

    /// Gives back table space after a burst: the map and the heap keep
    /// their peak capacity otherwise (at 1,000 calls/s, ≈100,000 lingering
    /// transactions' worth).
    fn shrink(&mut self) {
        /// Capacity kept however empty the layer gets.
        const FLOOR: usize = 1024;
        fn too_big(len: usize, cap: usize) -> bool {
            cap > FLOOR && cap / 4 > len
        }
        if too_big(self.txs.len(), self.txs.capacity()) {
            self.txs.shrink_to((self.txs.len() * 2).max(FLOOR));
        }
        let heap = &mut self.sched.heap;
        if too_big(heap.len(), heap.capacity()) {
            heap.shrink_to((heap.len() * 2).max(FLOOR));
        }
        if too_big(self.awaiting_ack.len(), self.awaiting_ack.capacity()) {
            let len = self.awaiting_ack.len();
            self.awaiting_ack.shrink_to((len * 2).max(FLOOR));
        }
        if too_big(self.transmits.len(), self.transmits.capacity()) {
            let len = self.transmits.len();
            self.transmits.shrink_to((len * 2).max(FLOOR));
        }
        if too_big(self.events.len(), self.events.capacity()) {
            let len = self.events.len();
            self.events.shrink_to((len * 2).max(FLOOR));
        }
    }

    // ---- server side -------------------------------------------------

    /// An incoming request. `source` is the address it came from;
    /// `reliable` is true for TCP/TLS/WS.
    pub fn on_request(
        &mut self,
        msg: &Message,
        source: SocketAddr,
        reliable: bool,
        now: Instant,
    ) -> ServerAction {
        let action = self.on_request_inner(msg, source, reliable, now);
        self.prune();
        action
    }

    fn on_request_inner(
        &mut self,
        msg: &Message,
        source: SocketAddr,
        reliable: bool,
        now: Instant,
    ) -> ServerAction {
        let Some(key) = TxKey::server(msg) else {
            return ServerAction::Absorbed;
        };
        if msg.method() == Some(Method::Ack) {
            return self.on_ack(&key, msg, now);
        }
        if let Some(tx) = self.txs.get_mut(&key) {
            let Machine::Server(s) = &mut tx.machine else {
                return ServerAction::Absorbed;
            };
            match s.state {
                ServerState::Trying => ServerAction::Retransmit,
                ServerState::Confirmed => ServerAction::Absorbed,
                ServerState::Proceeding | ServerState::Completed | ServerState::Accepted => {
                    if s.state == ServerState::Proceeding && s.last.is_none() {
                        // An INVITE retransmitted before the TU spoke:
                        // answer 100 now rather than at the 200 ms mark.
                        s.last = s.trying();
                        s.request = None;
                        disarm(&mut tx.timers, &[Timer::Trying]);
                    }
                    // Nothing once a 2xx was ACKed: the INVITE is stale.
                    if let Some(last) = s.last.clone() {
                        push(&mut self.transmits, tx.dest, last, tx.reliable);
                    }
                    ServerAction::Retransmit
                }
            }
        } else {
            if msg.method() == Some(Method::Bye) {
                self.bye_stops_2xx(msg);
            }
            self.new_server(key, msg, source, reliable, now)
        }
    }

    fn new_server(
        &mut self,
        key: TxKey,
        msg: &Message,
        source: SocketAddr,
        reliable: bool,
        now: Instant,
    ) -> ServerAction {
        let via = msg.top_via().ok();
        let dest = match &via {
            Some(via) if !reliable => response_dest(via, source),
            _ => source,
        };
        let stamp = via.filter(|v| via_needs_stamp(v, source)).map(|_| source);
        let invite = msg.method() == Some(Method::Invite);
        let mut tx = Tx {
            invite,
            dest,
            reliable,
            timers: Armed::default(),
            interval: self.timers.t1,
            machine: Machine::Server(ServerTx {
                state: if invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                },
                request: invite.then(|| Box::new(msg.clone())),
                last: None,
                acked: false,
                dialog: invite.then(|| (msg.call_id().into(), msg.cseq().seq)),
                stamp,
            }),
        };
        if invite {
            self.sched
                .arm(&mut tx.timers, &key, Timer::Trying, now + TRYING_DELAY);
        } else {
            let at = now + self.timers.t1x64();
            self.sched.arm(&mut tx.timers, &key, Timer::ServerGuard, at);
        }
        self.txs.insert(key.clone(), tx);
        if msg.method() == Some(Method::Cancel) {
            let invite = key.with_method("INVITE");
            if self.txs.contains_key(&invite) {
                return ServerAction::Cancel {
                    cancel: key,
                    invite,
                };
            }
        }
        ServerAction::New(key)
    }

    /// A BYE in a dialog whose 2xx still awaits its ACK proves the peer got
    /// the 2xx (or gave up on the session): stop retransmitting it and do
    /// not report [`TxEvent::AckTimeout`] for a session that is ending.
    fn bye_stops_2xx(&mut self, bye: &Message) {
        let call_id = bye.call_id();
        let done: Vec<Dialog> = self
            .awaiting_ack
            .keys()
            .filter(|(c, _)| &**c == call_id)
            .cloned()
            .collect();
        for d in done {
            if let Some(k) = self.awaiting_ack.remove(&d) {
                if let Some(tx) = self.txs.get_mut(&k) {
                    if let Machine::Server(s) = &mut tx.machine {
                        s.ack_received();
                    }
                    disarm(&mut tx.timers, &[Timer::Ok2xx]);
                }
            }
        }
    }

    fn on_ack(&mut self, key: &TxKey, msg: &Message, now: Instant) -> ServerAction {
        if let Some(key) = &self.stored(key) {
            let Some(tx) = self.txs.get_mut(key) else {
                return ServerAction::Absorbed;
            };
            if let Machine::Server(s) = &mut tx.machine {
                match s.state {
                    ServerState::Completed => {
                        s.state = ServerState::Confirmed;
                        // Confirmed absorbs retransmissions silently.
                        s.last = None;
                        disarm(&mut tx.timers, &[Timer::G, Timer::H]);
                        if tx.reliable {
                            self.terminate(key);
                        } else {
                            let at = now + self.timers.t4;
                            self.sched.arm(&mut tx.timers, key, Timer::I, at);
                        }
                        return ServerAction::Absorbed;
                    }
                    ServerState::Accepted => {
                        // A (non-compliant) 2xx ACK reusing the INVITE branch.
                        if let Some(d) = &s.dialog {
                            if self.awaiting_ack.get(d) == Some(key) {
                                self.awaiting_ack.remove(d);
                            }
                        }
                        s.ack_received();
                        disarm(&mut tx.timers, &[Timer::Ok2xx]);
                        return ServerAction::AckForDialog;
                    }
                    _ => return ServerAction::Absorbed,
                }
            }
        }
        let dialog: Dialog = (msg.call_id().into(), msg.cseq().seq);
        if let Some(k) = self.awaiting_ack.remove(&dialog) {
            if let Some(tx) = self.txs.get_mut(&k) {
                if let Machine::Server(s) = &mut tx.machine {
                    s.ack_received();
                }
                disarm(&mut tx.timers, &[Timer::Ok2xx]);
            }
        }
        ServerAction::AckForDialog
    }

    /// The TU answers a server transaction. Responses after a final one are
    /// dropped, except further 2xx to INVITE (sent as they are).
    pub fn respond(&mut self, key: &TxKey, response: Bytes, now: Instant) {
        self.respond_inner(key, response, now);
        self.prune();
    }

    fn respond_inner(&mut self, key: &TxKey, response: Bytes, now: Instant) {
        let Some(status) = status_of(&response) else {
            return;
        };
        let Some(key) = &self.stored(key) else {
            return;
        };
        let Some(tx) = self.txs.get_mut(key) else {
            return;
        };
        let Machine::Server(s) = &mut tx.machine else {
            return;
        };
        let response = s.stamped(response);
        let (dest, reliable, invite) = (tx.dest, tx.reliable, tx.invite);
        match s.state {
            ServerState::Trying | ServerState::Proceeding => {}
            ServerState::Accepted if (200..300).contains(&status) => {
                if !s.acked {
                    s.last = Some(response.clone());
                }
                push(&mut self.transmits, dest, response, reliable);
                return;
            }
            _ => return,
        }
        let armed = &mut tx.timers;
        disarm(armed, &[Timer::Trying]);
        s.last = Some(response.clone());
        s.request = None;
        let t = self.timers;
        let mut done = false;
        if status < 200 {
            s.state = ServerState::Proceeding;
        } else if invite && status < 300 {
            s.state = ServerState::Accepted;
            if let Some(d) = &s.dialog {
                self.awaiting_ack.insert(d.clone(), key.clone());
            }
            self.sched.arm(armed, key, Timer::L, now + t.t1x64());
            if !reliable {
                tx.interval = t.t1;
                self.sched.arm(armed, key, Timer::Ok2xx, now + t.t1);
            }
        } else if invite {
            s.state = ServerState::Completed;
            s.dialog = None;
            self.sched.arm(armed, key, Timer::H, now + t.t1x64());
            if !reliable {
                tx.interval = t.t1;
                self.sched.arm(armed, key, Timer::G, now + t.t1);
            }
        } else {
            s.state = ServerState::Completed;
            disarm(armed, &[Timer::ServerGuard]);
            if reliable {
                // Timer J is zero on reliable transports.
                done = true;
            } else {
                self.sched.arm(armed, key, Timer::J, now + t.t1x64());
            }
        }
        push(&mut self.transmits, dest, response, reliable);
        if done {
            self.terminate(key);
        }
    }

    /// Sends `response` again on a live server transaction without changing
    /// its state, e.g. a reliable provisional that [`crate::dialog::reliable::ReliableSender`]
    /// says to retransmit. False when the transaction is gone.
    pub fn resend(&mut self, key: &TxKey, response: Bytes) -> bool {
        let Some(tx) = self.txs.get(key) else {
            return false;
        };
        let Machine::Server(s) = &tx.machine else {
            return false;
        };
        let data = s.stamped(response);
        push(&mut self.transmits, tx.dest, data, tx.reliable);
        true
    }

    /// Where responses of a server transaction go, and whether over a
    /// reliable transport.
    pub fn response_target(&self, key: &TxKey) -> Option<(SocketAddr, bool)> {
        let tx = self.txs.get(key)?;
        matches!(tx.machine, Machine::Server(_)).then_some((tx.dest, tx.reliable))
    }

    // ---- client side -------------------------------------------------

    /// Starts a client transaction and transmits `request` (which already
    /// carries its top Via with `branch`). An ACK (for a 2xx) has no
    /// transaction: it is only transmitted. A CANCEL bounds the INVITE it
    /// cancels: without a final response 64*T1 later, that INVITE
    /// transaction times out (RFC 3261 §9.1).
    pub fn send_request(
        &mut self,
        request: Bytes,
        method: Method,
        branch: &str,
        dest: SocketAddr,
        reliable: bool,
        now: Instant,
    ) -> TxKey {
        let token = method_token(method, &request);
        let key = TxKey::client(branch, &token);
        push(&mut self.transmits, dest, request.clone(), reliable);
        if method == Method::Ack {
            return key;
        }
        let invite = method == Method::Invite;
        let t = self.timers;
        let mut tx = Tx {
            invite,
            dest,
            reliable,
            timers: Armed::default(),
            interval: t.t1,
            machine: Machine::Client(ClientTx {
                state: if invite {
                    ClientState::Calling
                } else {
                    ClientState::Trying
                },
                request: Some(request),
                ack: None,
                seen: Vec::new(),
                ok_tags: Vec::new(),
            }),
        };
        let (retransmit, timeout) = if invite {
            (Timer::A, Timer::B)
        } else {
            (Timer::E, Timer::F)
        };
        if !reliable {
            self.sched.arm(&mut tx.timers, &key, retransmit, now + t.t1);
        }
        self.sched
            .arm(&mut tx.timers, &key, timeout, now + t.t1x64());
        self.txs.insert(key.clone(), tx);
        if method == Method::Cancel {
            if let Some(ik) = self.stored(&key.with_method("INVITE")) {
                let itx = self.txs.get_mut(&ik).expect("stored");
                if let Machine::Client(c) = &itx.machine {
                    if matches!(c.state, ClientState::Calling | ClientState::Proceeding)
                        && !is_armed(&itx.timers, Timer::CancelGuard)
                    {
                        disarm(&mut itx.timers, &[Timer::C]);
                        self.sched
                            .arm(&mut itx.timers, &ik, Timer::CancelGuard, now + t.t1x64());
                    }
                }
            }
            self.prune();
        }
        key
    }

    /// Transmits bytes outside any transaction (e.g. a stateless 400 or a
    /// re-sent ACK for a 2xx).
    pub fn send_stateless(&mut self, data: Bytes, dest: SocketAddr, reliable: bool) {
        push(&mut self.transmits, dest, data, reliable);
    }

    /// An incoming response. `None` when it matches no client transaction
    /// (a stray: drop it, or hand a 2xx to the dialog layer).
    pub fn on_response(&mut self, msg: &Message, now: Instant) -> Option<(TxKey, ClientAction)> {
        let r = self.on_response_inner(msg, now);
        self.prune();
        r
    }

    fn on_response_inner(&mut self, msg: &Message, now: Instant) -> Option<(TxKey, ClientAction)> {
        let key = self.stored(&TxKey::for_response(msg)?)?;
        let status = msg.status()?;
        let tx = self.txs.get_mut(&key)?;
        let Machine::Client(c) = &mut tx.machine else {
            return None;
        };
        let (dest, reliable) = (tx.dest, tx.reliable);
        let armed = &mut tx.timers;
        let t = self.timers;
        let to_tag = msg.to().tag().unwrap_or_default();
        let mut done = false;
        let action = if tx.invite {
            match c.state {
                ClientState::Calling | ClientState::Proceeding | ClientState::Trying => {
                    if status < 200 {
                        if c.state == ClientState::Calling {
                            c.state = ClientState::Proceeding;
                            disarm(armed, &[Timer::A, Timer::B]);
                        }
                        if !is_armed(armed, Timer::CancelGuard)
                            && (status > 100 || !is_armed(armed, Timer::C))
                        {
                            self.sched.arm(armed, &key, Timer::C, now + self.timer_c);
                        }
                        dedupe_provisional(c, status, to_tag, msg)
                    } else if status < 300 {
                        c.state = ClientState::Accepted;
                        c.finish();
                        c.ok_tags.reserve_exact(1);
                        c.ok_tags.push(to_tag.into());
                        disarm(armed, &[Timer::A, Timer::B, Timer::C, Timer::CancelGuard]);
                        self.sched.arm(armed, &key, Timer::M, now + t.t1x64());
                        ClientAction::Deliver
                    } else {
                        c.state = ClientState::Completed;
                        disarm(armed, &[Timer::A, Timer::B, Timer::C, Timer::CancelGuard]);
                        c.ack = c.finish().and_then(|req| build_ack(req, msg));
                        if let Some(ack) = c.ack.clone() {
                            push(&mut self.transmits, dest, ack, reliable);
                        }
                        if reliable {
                            // Timer D is zero on reliable transports.
                            done = true;
                        } else {
                            self.sched.arm(armed, &key, Timer::D, now + TIMER_D);
                        }
                        ClientAction::Deliver
                    }
                }
                ClientState::Completed => {
                    if status >= 300 {
                        if let Some(ack) = c.ack.clone() {
                            push(&mut self.transmits, dest, ack, reliable);
                        }
                    }
                    ClientAction::Absorbed
                }
                ClientState::Accepted => {
                    if !(200..300).contains(&status) {
                        ClientAction::Absorbed
                    } else if c.ok_tags.iter().any(|t| &**t == to_tag) {
                        ClientAction::Retransmitted2xx
                    } else if c.ok_tags.len() < SEEN_LIMIT {
                        c.ok_tags.reserve_exact(1);
                        c.ok_tags.push(to_tag.into());
                        ClientAction::Deliver
                    } else {
                        ClientAction::Absorbed
                    }
                }
            }
        } else {
            match c.state {
                ClientState::Completed | ClientState::Accepted => ClientAction::Absorbed,
                _ if status < 200 => {
                    c.state = ClientState::Proceeding;
                    dedupe_provisional(c, status, to_tag, msg)
                }
                _ => {
                    c.state = ClientState::Completed;
                    c.finish();
                    disarm(armed, &[Timer::E, Timer::F]);
                    if reliable {
                        // Timer K is zero on reliable transports.
                        done = true;
                    } else {
                        self.sched.arm(armed, &key, Timer::K, now + t.t4);
                    }
                    ClientAction::Deliver
                }
            }
        };
        if done {
            self.terminate(&key);
        }
        Some((key, action))
    }

    // ---- time and output ---------------------------------------------

    /// When [`TransactionLayer::handle_timeout`] should next be called
    /// (cancelled timers are pruned, so this is a live deadline).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sched.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, ..))) = self.sched.heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, seq, timer, key))) = self.sched.heap.pop() else {
                break;
            };
            let Some(tx) = self.txs.get_mut(&key) else {
                continue;
            };
            let Some(slot) = tx.timers.live(timer, seq) else {
                continue;
            };
            tx.timers.0[slot] = None;
            self.fire(&key, timer, at);
        }
        self.prune();
        self.shrink();
    }

    fn fire(&mut self, key: &TxKey, timer: Timer, at: Instant) {
        let t = self.timers;
        let Some(tx) = self.txs.get_mut(key) else {
            return;
        };
        let (dest, reliable) = (tx.dest, tx.reliable);
        let armed = &mut tx.timers;
        let mut done = false;
        match (&mut tx.machine, timer) {
            (Machine::Client(c), Timer::A) if c.state == ClientState::Calling => {
                tx.interval *= 2;
                self.sched.arm(armed, key, Timer::A, at + tx.interval);
                if let Some(req) = c.request.clone() {
                    push(&mut self.transmits, dest, req, reliable);
                }
            }
            (Machine::Client(c), Timer::E)
                if matches!(c.state, ClientState::Trying | ClientState::Proceeding) =>
            {
                tx.interval = if c.state == ClientState::Proceeding {
                    t.t2
                } else {
                    (tx.interval * 2).min(t.t2)
                };
                self.sched.arm(armed, key, Timer::E, at + tx.interval);
                if let Some(req) = c.request.clone() {
                    push(&mut self.transmits, dest, req, reliable);
                }
            }
            (Machine::Client(c), Timer::C) if c.state == ClientState::Proceeding => {
                self.sched
                    .arm(armed, key, Timer::CancelGuard, at + t.t1x64());
                self.events.push_back(TxEvent::TimerC(key.clone()));
            }
            (Machine::Client(_), Timer::B | Timer::F | Timer::CancelGuard) => {
                self.events.push_back(TxEvent::Timeout(key.clone()));
                done = true;
            }
            (Machine::Client(_), Timer::D | Timer::K | Timer::M) => done = true,
            (Machine::Server(s), Timer::Trying) if s.last.is_none() => {
                if let Some(trying) = s.trying() {
                    s.last = Some(trying.clone());
                    s.request = None;
                    push(&mut self.transmits, dest, trying, reliable);
                }
            }
            (Machine::Server(s), Timer::G) if s.state == ServerState::Completed => {
                if let Some(last) = s.last.clone() {
                    tx.interval = (tx.interval * 2).min(t.t2);
                    self.sched.arm(armed, key, Timer::G, at + tx.interval);
                    push(&mut self.transmits, dest, last, reliable);
                }
            }
            (Machine::Server(s), Timer::Ok2xx) if s.state == ServerState::Accepted && !s.acked => {
                if let Some(last) = s.last.clone() {
                    tx.interval = (tx.interval * 2).min(t.t2);
                    self.sched.arm(armed, key, Timer::Ok2xx, at + tx.interval);
                    push(&mut self.transmits, dest, last, reliable);
                }
            }
            (Machine::Server(_), Timer::H) => {
                self.events.push_back(TxEvent::Timeout(key.clone()));
                done = true;
            }
            (Machine::Server(s), Timer::L) => {
                if !s.acked {
                    self.events.push_back(TxEvent::AckTimeout(key.clone()));
                }
                done = true;
            }
            (Machine::Server(_), Timer::I | Timer::J | Timer::ServerGuard) => done = true,
            _ => {}
        }
        if done {
            self.terminate(key);
        }
    }

    /// The next datagram or stream write to perform.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// The shell could not send for this transaction (ICMP unreachable,
    /// connection refused or reset): it ends with
    /// [`TxEvent::TransportError`] (RFC 3261 §17.1.4, §17.2.4).
    pub fn on_transport_error(&mut self, key: &TxKey) {
        if self.txs.contains_key(key) {
            self.events.push_back(TxEvent::TransportError(key.clone()));
            self.terminate(key);
            self.prune();
        }
    }
}

fn dedupe_provisional(c: &mut ClientTx, status: u16, to_tag: &str, msg: &Message) -> ClientAction {
    let rseq = msg
        .headers_named("RSeq")
        .next()
        .and_then(|v| v.trim().parse().ok());
    if c.seen
        .iter()
        .any(|(s, t, r)| *s == status && &**t == to_tag && *r == rseq)
    {
        return ClientAction::Absorbed;
    }
    if c.seen.len() < SEEN_LIMIT {
        c.seen.push((status, to_tag.into(), rseq));
    }
    ClientAction::Deliver
}

/// The status code of a response we are about to send.
fn status_of(b: &[u8]) -> Option<u16> {
    let rest = b.strip_prefix(b"SIP/2.0 ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the
/// request's Request-URI, top Via, Route set, From, Call-ID and CSeq
/// number; the response's To.
fn build_ack(request: Bytes, response: &Message) -> Option<Bytes> {
    let req = Message::parse(request).ok()?;
    let mut b = RequestBuilder::new("ACK", req.request_uri_str()?)
        .header("Via", req.top_via_str())
        .header("Max-Forwards", 70)
        .header("From", req.from_str_raw())
        .header("To", response.to_str_raw())
        .header("Call-ID", req.call_id())
        .header("CSeq", format_args!("{} ACK", req.cseq().seq));
    for route in req.headers(HeaderName::Route) {
        b = b.header("Route", route);
    }
    // Kept for Timer D's 32 s: a copy of its own size, not the builder's
    // 768-byte buffer.
    Some(Bytes::copy_from_slice(&b.build(None)))
}
