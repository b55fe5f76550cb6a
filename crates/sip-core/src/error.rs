//! Why a message could not be parsed, and what the peer should be told.

/// A fault in bytes a peer sent. Each maps to the response a UAS sends for it
/// ([`ParseError::status`]); responses that fail to parse are dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("message is larger than {0} bytes")]
    TooLarge(usize),
    #[error("declared body of {0} bytes is too large")]
    BodyTooLarge(usize),
    #[error("no blank line ends the header section")]
    Incomplete,
    #[error("header section is not UTF-8")]
    NotUtf8,
    #[error("malformed start line")]
    BadStartLine,
    #[error("unsupported SIP version")]
    BadVersion,
    #[error("malformed status code")]
    BadStatus,
    #[error("malformed Request-URI")]
    BadRequestUri,
    #[error("malformed header line {0}")]
    BadHeader(usize),
    #[error("malformed {0} header")]
    BadHeaderValue(&'static str),
    #[error("missing mandatory header {0}")]
    Missing(&'static str),
    #[error("{0} appears more than once")]
    Duplicate(&'static str),
    #[error("Content-Length disagrees with the body")]
    BadContentLength,
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    #[error("malformed multipart body")]
    BadMultipart,
}

impl ParseError {
    /// The SIP status a UAS answers this fault with (RFC 3261 §8.2, §21.4).
    pub fn status(&self) -> u16 {
        match self {
            ParseError::TooLarge(_) => 513,
            ParseError::BodyTooLarge(_) => 413,
            ParseError::BadVersion => 505,
            _ => 400,
        }
    }
}
