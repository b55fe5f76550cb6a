//! Transaction states, with the RFC's diagrams.

/// Client transaction states.
///
/// INVITE (RFC 3261 Figure 5, RFC 6026 Figure 3):
///
/// ```text
///                    |INVITE from TU
///  Timer A fires     |INVITE sent          Timer B fires
///  Reset A,          V                     -> Timeout to TU
///  INVITE sent +-----------+
///    +---------|  Calling  |-------------+
///    +-------->|           |  2xx        |
///              +-----------+  -> TU      |
///         300-699  |  |1xx               |
///     ACK sent     |  |-> TU             V
///     -> TU        |  V              +-----------+
///                  | +------------+  | Accepted  |  2xx -> TU
///                  | | Proceeding |->|           |  (Timer M)
///                  | +------------+  +-----------+
///                  |    |300-699          |Timer M
///                  V    V ACK sent        V
///              +-----------+         +------------+
///              | Completed |-------->| Terminated |
///              +-----------+ Timer D +------------+
/// ```
///
/// Non-INVITE (Figure 6): `Trying` -(1xx)-> `Proceeding` -(200-699)->
/// `Completed` -(Timer K)-> `Terminated`; Timer E retransmits in Trying
/// and Proceeding, Timer F times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard.
    Calling,
    /// Non-INVITE sent, nothing heard.
    Trying,
    Proceeding,
    /// Non-2xx final received (INVITE: ACK sent).
    Completed,
    /// 2xx to INVITE received (RFC 6026).
    Accepted,
}

/// Server transaction states.
///
/// INVITE (RFC 3261 Figure 7, RFC 6026 Figure 5):
///
/// ```text
///                     |INVITE -> TU (layer sends 100 after 200 ms)
///                     V
///               +------------+  1xx from TU: send
///   INVITE ---->| Proceeding |<------------
///   resend 1xx  +------------+
///    300-699 from TU |      | 2xx from TU: send
///    send, Timers G,H|      +---------------------+
///                    V                            V
///   INVITE     +-----------+              +------------+  INVITE: absorb
///   resend  -->| Completed |              |  Accepted  |  2xx resent until
///   final      +-----------+              +------------+  ACK (Timer G-like)
///         ACK     |     | Timer H -> TU         | Timer L
///                 V     +-------------------+   |
///             +-----------+                 |   |
///             | Confirmed | ACK absorbed    V   V
///             +-----------+ Timer I    +------------+
///                   +----------------->| Terminated |
///                                      +------------+
/// ```
///
/// Non-INVITE (Figure 8): `Trying` -(1xx from TU)-> `Proceeding`
/// -(200-699 from TU)-> `Completed` -(Timer J)-> `Terminated`;
/// retransmitted requests get the last response again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, no response sent.
    Trying,
    Proceeding,
    Completed,
    /// INVITE: ACK for the non-2xx final received.
    Confirmed,
    /// INVITE: 2xx sent (RFC 6026).
    Accepted,
}
