//! Offer/answer bookkeeping for one dialog (RFC 3264 §4, RFC 3311 §5.2,
//! RFC 6337): at most one offer outstanding in each direction, and the
//! glare answers when a new offer crosses a pending one.

use super::DialogError;

/// Where the dialog's SDP negotiation stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfferAnswer {
    /// We sent an offer (INVITE, UPDATE, PRACK or reliable 1xx/2xx) and
    /// have no answer yet.
    pub local_offer: bool,
    /// The peer sent an offer we have not answered yet.
    pub remote_offer: bool,
}

impl OfferAnswer {
    /// True when we may send a new offer now.
    pub fn can_offer(&self) -> bool {
        !self.local_offer && !self.remote_offer
    }

    /// We are sending an offer. `Err` when one is outstanding either way
    /// (the TU should wait, or retry after a 491, RFC 3261 §14.1).
    pub fn send_offer(&mut self) -> Result<(), DialogError> {
        if self.local_offer {
            return Err(DialogError::RequestPending);
        }
        if self.remote_offer {
            return Err(DialogError::InviteInProgress);
        }
        self.local_offer = true;
        Ok(())
    }

    /// An offer arrived (in UPDATE, re-INVITE, PRACK or a response). `Err`
    /// is the response to send: 491 when ours is pending (glare), 500 with
    /// Retry-After when the peer's previous offer is still unanswered
    /// (RFC 3311 §5.2).
    pub fn receive_offer(&mut self) -> Result<(), DialogError> {
        if self.local_offer {
            return Err(DialogError::RequestPending);
        }
        if self.remote_offer {
            return Err(DialogError::InviteInProgress);
        }
        self.remote_offer = true;
        Ok(())
    }

    /// We answered the peer's offer (or rejected the request carrying it).
    pub fn answered(&mut self) {
        self.remote_offer = false;
    }

    /// The peer answered our offer, or the request carrying it failed.
    pub fn answer_received(&mut self) {
        self.local_offer = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_offer_at_a_time_and_glare() {
        let mut oa = OfferAnswer::default();
        assert!(oa.can_offer());
        oa.send_offer().unwrap();
        assert!(!oa.can_offer());
        // UPDATE with an offer crosses ours: 491.
        assert_eq!(oa.receive_offer().unwrap_err().status(), 491);
        oa.answer_received();
        oa.receive_offer().unwrap();
        // A second offer before we answered the first: 500.
        assert_eq!(oa.receive_offer().unwrap_err().status(), 500);
        assert_eq!(oa.send_offer().unwrap_err().status(), 500);
        oa.answered();
        assert!(oa.can_offer());
    }
}
