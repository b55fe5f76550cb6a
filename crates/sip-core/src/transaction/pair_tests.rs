//! Two transaction layers talking over a simulated lossy network, stepped
//! on one simulated clock (the quinn-proto `Pair` idea): a caller's INVITE,
//! 180, 200, ACK and BYE survive random loss and delay; each TU sees every
//! request exactly once; every transaction ends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::dialog::Dialog;
use crate::{Message, Method, RequestBuilder, ResponseBuilder};

/// A datagram in flight: (arrival, order, towards the UAS, bytes).
type InFlight = Reverse<(Instant, u64, bool, Vec<u8>)>;

struct Net {
    rng: u64,
    loss_percent: u64,
    max_delay_ms: u64,
    seq: u64,
    flight: BinaryHeap<InFlight>,
}

impl Net {
    fn rand(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn send(&mut self, now: Instant, to_uas: bool, data: &Bytes) {
        if self.rand() % 100 < self.loss_percent {
            return;
        }
        let delay = Duration::from_millis(1 + self.rand() % self.max_delay_ms.max(1));
        self.seq += 1;
        self.flight
            .push(Reverse((now + delay, self.seq, to_uas, data.to_vec())));
    }
}

const CALLER: &str = "192.0.2.1:5060";
const ENGINE: &str = "192.0.2.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[derive(Debug, Default)]
struct Outcome {
    invites_seen_by_uas_tu: u32,
    byes_seen_by_uas_tu: u32,
    acks_for_dialog: u32,
    call_answered: bool,
    bye_ok: bool,
    uac_timeouts: u32,
}

fn run_call(seed: u64, loss_percent: u64, max_delay_ms: u64) -> (Outcome, usize, usize) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut net = Net {
        rng: seed | 1,
        loss_percent,
        max_delay_ms,
        seq: 0,
        flight: BinaryHeap::new(),
    };
    let mut uac = TransactionLayer::new(Timers::default());
    let mut uas = TransactionLayer::new(Timers::default());
    let mut out = Outcome::default();

    let branch = "z9hG4bKcall1";
    let invite = Bytes::from(
        RequestBuilder::new("INVITE", &format!("sip:5000@{ENGINE}"))
            .header("Via", format!("SIP/2.0/UDP {CALLER};branch={branch}"))
            .header("Max-Forwards", 70)
            .header("From", format!("<sip:carrier@{CALLER}>;tag=c1"))
            .header("To", format!("<sip:5000@{ENGINE}>"))
            .header("Call-ID", "sim-1")
            .header("CSeq", "1 INVITE")
            .header("Contact", format!("<sip:carrier@{CALLER}>"))
            .build(None),
    );
    let invite_msg = Message::parse(invite.clone()).unwrap();
    uac.send_request(invite, Method::Invite, branch, addr(ENGINE), false, now);
    let mut dialog: Option<Dialog> = None;
    let mut ack: Option<Bytes> = None;
    let mut bye_sent = false;

    let end = t0 + Duration::from_secs(300);
    loop {
        // Ship everything both layers want to send.
        while let Some(t) = uac.poll_transmit() {
            net.send(now, true, &t.data);
        }
        while let Some(t) = uas.poll_transmit() {
            net.send(now, false, &t.data);
        }
        while let Some(e) = uac.poll_event() {
            if matches!(e, TxEvent::Timeout(_)) {
                out.uac_timeouts += 1;
            }
        }
        while uas.poll_event().is_some() {}
        // Next instant: a packet arrival or a timer.
        let next_packet = net.flight.peek().map(|Reverse((at, ..))| *at);
        let next = [next_packet, uac.poll_timeout(), uas.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        if next > end {
            break;
        }
        now = now.max(next);
        uac.handle_timeout(now);
        uas.handle_timeout(now);
        while let Some(Reverse((at, ..))) = net.flight.peek() {
            if *at > now {
                break;
            }
            let Reverse((_, _, to_uas, data)) = net.flight.pop().unwrap();
            let msg = Message::parse(Bytes::from(data)).unwrap();
            if to_uas {
                // The engine's TU.
                match uas.on_request(&msg, addr(CALLER), false, now) {
                    ServerAction::New(key) => match msg.method() {
                        Some(Method::Invite) => {
                            out.invites_seen_by_uas_tu += 1;
                            uas.respond(
                                &key,
                                ResponseBuilder::new(&msg, 180).to_tag("e1").build().into(),
                                now,
                            );
                            let ok = ResponseBuilder::new(&msg, 200)
                                .to_tag("e1")
                                .header("Contact", format!("<sip:engine@{ENGINE}>"))
                                .build();
                            uas.respond(&key, ok.into(), now);
                        }
                        Some(Method::Bye) => {
                            out.byes_seen_by_uas_tu += 1;
                            uas.respond(&key, ResponseBuilder::new(&msg, 200).build().into(), now);
                        }
                        _ => {}
                    },
                    ServerAction::AckForDialog => out.acks_for_dialog += 1,
                    _ => {}
                }
            } else {
                // The caller's TU.
                let Some((key, action)) = uac.on_response(&msg, now) else {
                    continue;
                };
                let status = msg.status().unwrap();
                if key.method() == "INVITE" && (200..300).contains(&status) {
                    if action == ClientAction::Deliver {
                        out.call_answered = true;
                        let mut d = Dialog::uac(&invite_msg, &msg).unwrap();
                        ack = Some(Bytes::from(
                            d.ack(1, &format!("SIP/2.0/UDP {CALLER};branch=z9hG4bKack1"))
                                .build(None),
                        ));
                        let bye = d
                            .request("BYE", &format!("SIP/2.0/UDP {CALLER};branch=z9hG4bKbye1"))
                            .build(None);
                        dialog = Some(d);
                        uac.send_stateless(ack.clone().unwrap(), addr(ENGINE), false);
                        if !bye_sent {
                            bye_sent = true;
                            uac.send_request(
                                bye.into(),
                                Method::Bye,
                                "z9hG4bKbye1",
                                addr(ENGINE),
                                false,
                                now,
                            );
                        }
                    } else if action == ClientAction::Retransmitted2xx {
                        uac.send_stateless(ack.clone().unwrap(), addr(ENGINE), false);
                    }
                } else if key.method() == "BYE" && status == 200 && action == ClientAction::Deliver
                {
                    out.bye_ok = true;
                }
            }
        }
    }
    let _ = dialog;
    (out, uac.len(), uas.len())
}

#[test]
fn a_call_over_a_clean_network() {
    let (out, uac_left, uas_left) = run_call(7, 0, 20);
    assert!(out.call_answered && out.bye_ok, "{out:?}");
    assert_eq!(
        (out.invites_seen_by_uas_tu, out.byes_seen_by_uas_tu),
        (1, 1)
    );
    assert_eq!(out.acks_for_dialog, 1);
    assert_eq!((uac_left, uas_left), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn calls_survive_loss_and_every_transaction_ends(
        seed in any::<u64>(),
        loss in 0u64..40,
        delay in 1u64..400,
    ) {
        let (out, uac_left, uas_left) = run_call(seed, loss, delay);
        // Retransmissions never reach a TU twice.
        prop_assert!(out.invites_seen_by_uas_tu <= 1);
        prop_assert!(out.byes_seen_by_uas_tu <= 1);
        // Either the call went through end to end, or someone timed out.
        prop_assert!(out.bye_ok || out.uac_timeouts > 0, "{:?}", out);
        if out.call_answered {
            prop_assert_eq!(out.invites_seen_by_uas_tu, 1);
        }
        prop_assert_eq!((uac_left, uas_left), (0, 0));
    }
}

#[test]
fn thirty_percent_loss_still_completes_most_calls() {
    let done = (0..50u64)
        .filter(|s| run_call(s * 7919 + 1, 30, 100).0.bye_ok)
        .count();
    // 7 INVITE tries and 11 BYE tries at 30% loss each way: almost all pass.
    assert!(done >= 45, "{done}/50");
}
