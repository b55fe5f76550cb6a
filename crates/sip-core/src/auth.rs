//! Server-side HTTP Digest authentication for SIP (RFC 3261 §22.4,
//! RFC 2617, RFC 7616 algorithms as adopted for SIP by RFC 8760).
//!
//! Nonces are stateless: `hex(issued_unix_secs ‖ salt ‖ HMAC-SHA256(secret,
//! issued ‖ salt ‖ realm)[..16])`, so any node holding the secret verifies a
//! nonce another node issued. The only state is a bounded nonce-count memory
//! that rejects a reused `nc` (replay) for `qop=auth`.
//!
//! ```
//! use sip_core::auth::{DigestAlgorithm, DigestServer};
//! let mut server = DigestServer::new("switchboard", b"cluster secret");
//! let www_authenticate = server.challenge(1_700_000_000, false, DigestAlgorithm::Md5);
//! assert!(www_authenticate.starts_with("Digest realm=\"switchboard\", nonce=\""));
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::message::Message;
use crate::uri::Uri;

/// Digest hash algorithm (`algorithm=` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm=` value: `(algorithm, is_sess)`.
    fn parse(s: &str) -> Option<(DigestAlgorithm, bool)> {
        let (base, sess) = match s.len().checked_sub(5) {
            Some(i) if s.is_char_boundary(i) && s[i..].eq_ignore_ascii_case("-sess") => {
                (&s[..i], true)
            }
            _ => (s, false),
        };
        if base.eq_ignore_ascii_case("MD5") {
            Some((DigestAlgorithm::Md5, sess))
        } else if base.eq_ignore_ascii_case("SHA-256") {
            Some((DigestAlgorithm::Sha256, sess))
        } else {
            None
        }
    }

    /// Lowercase hex digest of `parts` joined by `:`.
    fn hash(self, parts: &[&str]) -> String {
        fn run<D: Digest>(parts: &[&str]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p.as_bytes());
            }
            hex::encode(d.finalize())
        }
        match self {
            DigestAlgorithm::Md5 => run::<Md5>(parts),
            DigestAlgorithm::Sha256 => run::<Sha256>(parts),
        }
    }
}

/// Why an `Authorization` header was refused. Every variant is the peer's
/// fault; all map to a fresh challenge ([`AuthError::status`]), with
/// `stale=true` for [`AuthError::Stale`] (RFC 2617 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("malformed Authorization header")]
    Malformed,
    #[error("authorization scheme is not Digest, or algorithm/qop is unsupported")]
    UnknownScheme,
    #[error("credentials are for another realm")]
    WrongRealm,
    #[error("nonce has expired; re-challenge with stale=true")]
    Stale,
    #[error("nonce was not issued by this cluster")]
    BadNonce,
    #[error("nonce-count was already used (replay)")]
    Replay,
    #[error("unknown user")]
    UnknownUser,
    #[error("digest response does not match")]
    BadResponse,
}

impl AuthError {
    /// The status a registrar/UAS answers with: 401 with a new challenge
    /// (400 for a header that cannot be parsed at all, RFC 3261 §8.2).
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Malformed => 400,
            _ => 401,
        }
    }

    /// True when the challenge sent back should carry `stale=true`.
    pub fn is_stale(&self) -> bool {
        matches!(self, AuthError::Stale)
    }
}

/// Default nonce lifetime (seconds).
pub const DEFAULT_NONCE_TTL: u64 = 300;
/// Default number of nonces whose nonce-count is remembered.
pub const DEFAULT_NC_CAPACITY: usize = 16_384;

const SALT_LEN: usize = 8;
const MAC_LEN: usize = 16;
const NONCE_HEX_LEN: usize = 2 * (8 + SALT_LEN + MAC_LEN);

/// Sliding nonce-count window per nonce (like the IPsec anti-replay window):
/// the highest `nc` seen and a bitmap of the 64 below it, so reordered UDP
/// requests still pass but a reused `nc` never does.
#[derive(Debug, Clone, Copy)]
struct NcWindow {
    issued: u64,
    highest: u32,
    seen: u64,
}

impl NcWindow {
    /// Records `nc`; false when it was seen before or is too old to tell.
    fn accept(&mut self, nc: u32) -> bool {
        if nc > self.highest {
            let shift = nc - self.highest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = nc;
            true
        } else {
            let back = self.highest - nc;
            if back >= 64 || self.seen & (1 << back) != 0 {
                false
            } else {
                self.seen |= 1 << back;
                true
            }
        }
    }
}

/// Server side of Digest: issues challenges and verifies credentials.
#[derive(Debug, Clone)]
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    nonce_ttl: u64,
    nc_capacity: usize,
    /// Keyed by the nonce the client echoes: foldhash, random seed.
    nc: HashMap<String, NcWindow, foldhash::fast::RandomState>,
    order: VecDeque<String>,
    /// Nonces issued at or before this time may have been evicted from the
    /// nc memory; when one is not remembered it is treated as stale, so
    /// eviction can never re-open a replay.
    evicted_floor: Option<u64>,
}

/// A parsed `Digest` credentials header (RFC 2617 §3.2.2). Values are
/// unquoted and unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    /// RFC 7616 `userhash=true` (not supported: verification refuses it).
    pub userhash: bool,
}

impl Credentials {
    /// Parses an `Authorization` / `Proxy-Authorization` value.
    pub fn parse(value: &str) -> Result<Credentials, AuthError> {
        let value = value.trim();
        let (scheme, rest) = match value.find([' ', '\t']) {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, ""),
        };
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnknownScheme);
        }
        let mut c = Credentials::default();
        let (mut has_user, mut has_realm, mut has_nonce, mut has_uri, mut has_resp) =
            (false, false, false, false, false);
        for item in auth_params(rest) {
            let (name, value) = item?;
            let set = |flag: &mut bool, slot: &mut String| {
                if std::mem::replace(flag, true) {
                    return Err(AuthError::Malformed);
                }
                *slot = value.clone();
                Ok(())
            };
            match name.to_ascii_lowercase().as_str() {
                "username" => set(&mut has_user, &mut c.username)?,
                "realm" => set(&mut has_realm, &mut c.realm)?,
                "nonce" => set(&mut has_nonce, &mut c.nonce)?,
                "uri" => set(&mut has_uri, &mut c.uri)?,
                "response" => set(&mut has_resp, &mut c.response)?,
                "algorithm" => c.algorithm = Some(value),
                "cnonce" => c.cnonce = Some(value),
                "opaque" => c.opaque = Some(value),
                "qop" => c.qop = Some(value),
                "nc" => c.nc = Some(value),
                "userhash" => c.userhash = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        if !(has_user && has_realm && has_nonce && has_uri && has_resp) {
            return Err(AuthError::Malformed);
        }
        Ok(c)
    }
}

/// Iterates `name=value` / `name="quoted \"value\""` pairs separated by
/// commas (RFC 2617 §1.2 `auth-param`).
fn auth_params(s: &str) -> impl Iterator<Item = Result<(&str, String), AuthError>> {
    let mut rest = s;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let Some(eq) = rest.find('=') else {
            rest = "";
            return Some(Err(AuthError::Malformed));
        };
        let name = rest[..eq].trim();
        if !crate::method::is_token(name) {
            rest = "";
            return Some(Err(AuthError::Malformed));
        }
        let after = rest[eq + 1..].trim_start();
        if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => break,
                    },
                    Some((i, '"')) => {
                        rest = &q[i + 1..];
                        let trimmed = rest.trim_start();
                        if !(trimmed.is_empty() || trimmed.starts_with(',')) {
                            rest = "";
                            return Some(Err(AuthError::Malformed));
                        }
                        return Some(Ok((name, value)));
                    }
                    Some((_, c)) => value.push(c),
                    None => break,
                }
            }
            rest = "";
            Some(Err(AuthError::Malformed))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            let value = after[..end].trim();
            rest = &after[end..];
            if value.is_empty() || value.contains([' ', '\t', '"']) {
                rest = "";
                return Some(Err(AuthError::Malformed));
            }
            Some(Ok((name, value.to_string())))
        }
    })
}

/// The Digest `response` value (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1).
/// `qop` is `None` for the RFC 2069 form; `Some((qop, nc, cnonce))` otherwise.
#[allow(clippy::too_many_arguments)]
pub fn digest_response(
    alg: DigestAlgorithm,
    sess: bool,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str, &str)>,
) -> String {
    let mut ha1 = alg.hash(&[username, realm, password]);
    if sess {
        let cnonce = qop.map(|q| q.2).unwrap_or_default();
        ha1 = alg.hash(&[&ha1, nonce, cnonce]);
    }
    let ha2 = alg.hash(&[method, uri]);
    match qop {
        Some((qop, nc, cnonce)) => alg.hash(&[&ha1, nonce, nc, cnonce, qop, &ha2]),
        None => alg.hash(&[&ha1, nonce, &ha2]),
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl DigestServer {
    pub fn new(realm: &str, secret: &[u8]) -> Self {
        DigestServer {
            realm: realm.to_string(),
            secret: secret.to_vec(),
            nonce_ttl: DEFAULT_NONCE_TTL,
            nc_capacity: DEFAULT_NC_CAPACITY,
            nc: HashMap::default(),
            order: VecDeque::new(),
            evicted_floor: None,
        }
    }

    /// How long a nonce stays valid (seconds); older nonces are `Stale`.
    pub fn with_nonce_ttl(mut self, secs: u64) -> Self {
        self.nonce_ttl = secs;
        self
    }

    /// How many nonces' nonce-counts are remembered (at least 1).
    pub fn with_nc_capacity(mut self, n: usize) -> Self {
        self.nc_capacity = n.max(1);
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Nonces currently held in the nonce-count memory.
    pub fn remembered_nonces(&self) -> usize {
        self.nc.len()
    }

    fn mac(&self, issued: &[u8], salt: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(issued);
        mac.update(salt);
        mac.update(self.realm.as_bytes());
        mac
    }

    /// A fresh nonce issued at `now_unix` (random salt so each challenge is
    /// unique and its nonce-count starts fresh).
    pub fn nonce(&self, now_unix: u64) -> String {
        self.nonce_with_salt(now_unix, rand::random::<[u8; SALT_LEN]>())
    }

    fn nonce_with_salt(&self, now_unix: u64, salt: [u8; SALT_LEN]) -> String {
        let issued = now_unix.to_be_bytes();
        let tag = self.mac(&issued, &salt).finalize().into_bytes();
        let mut raw = [0u8; 8 + SALT_LEN + MAC_LEN];
        raw[..8].copy_from_slice(&issued);
        raw[8..8 + SALT_LEN].copy_from_slice(&salt);
        raw[8 + SALT_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        hex::encode(raw)
    }

    /// Checks a nonce's HMAC; returns when it was issued.
    fn nonce_issued(&self, nonce: &str) -> Result<u64, AuthError> {
        if nonce.len() != NONCE_HEX_LEN {
            return Err(AuthError::BadNonce);
        }
        let mut raw = [0u8; 8 + SALT_LEN + MAC_LEN];
        hex::decode_to_slice(nonce, &mut raw).map_err(|_| AuthError::BadNonce)?;
        let (issued, rest) = raw.split_at(8);
        let (salt, tag) = rest.split_at(SALT_LEN);
        self.mac(issued, salt)
            .verify_truncated_left(tag)
            .map_err(|_| AuthError::BadNonce)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(issued);
        Ok(u64::from_be_bytes(ts))
    }

    /// A full `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn challenge(&self, now_unix: u64, stale: bool, alg: DigestAlgorithm) -> String {
        let mut out = String::with_capacity(160);
        let _ = write!(
            out,
            "Digest realm={}, nonce=\"{}\", algorithm={}, qop=\"auth\"",
            quote(&self.realm),
            self.nonce(now_unix),
            alg.as_str()
        );
        if stale {
            out.push_str(", stale=true");
        }
        out
    }

    /// One challenge per algorithm, strongest first: SHA-256 then MD5
    /// (RFC 8760 §2.4). Send each as its own header field.
    pub fn challenges(&self, now_unix: u64, stale: bool) -> Vec<String> {
        vec![
            self.challenge(now_unix, stale, DigestAlgorithm::Sha256),
            self.challenge(now_unix, stale, DigestAlgorithm::Md5),
        ]
    }

    /// Verifies one `Authorization` value for a request with `method`.
    /// Returns the authenticated username. Does not compare the digest
    /// `uri` with the Request-URI; [`DigestServer::verify_request`] does.
    pub fn verify(
        &mut self,
        authorization: &str,
        method: &str,
        now_unix: u64,
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<String, AuthError> {
        let c = Credentials::parse(authorization)?;
        self.verify_credentials(&c, method, now_unix, password_of)
    }

    /// Verifies the request's `Authorization` header for this realm (other
    /// realms' credentials are skipped), including that the digest `uri`
    /// names the Request-URI (RFC 2617 §3.2.2.5). `Err(WrongRealm)` when no
    /// credentials for this realm are present: send a challenge.
    pub fn verify_request(
        &mut self,
        msg: &Message,
        header: crate::HeaderName,
        now_unix: u64,
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<String, AuthError> {
        let method = msg.method_str().ok_or(AuthError::Malformed)?;
        let ruri = msg.request_uri_str().ok_or(AuthError::Malformed)?;
        let mut first_err = AuthError::WrongRealm;
        for value in msg.headers(header) {
            let c = match Credentials::parse(value) {
                Ok(c) => c,
                Err(e) => {
                    if first_err == AuthError::WrongRealm {
                        first_err = e;
                    }
                    continue;
                }
            };
            if c.realm != self.realm {
                continue;
            }
            if !same_uri(&c.uri, ruri) {
                return Err(AuthError::BadResponse);
            }
            return self.verify_credentials(&c, method, now_unix, password_of);
        }
        Err(first_err)
    }

    /// Verifies parsed credentials.
    pub fn verify_credentials(
        &mut self,
        c: &Credentials,
        method: &str,
        now_unix: u64,
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<String, AuthError> {
        let (alg, sess) = match &c.algorithm {
            None => (DigestAlgorithm::Md5, false),
            Some(a) => DigestAlgorithm::parse(a).ok_or(AuthError::UnknownScheme)?,
        };
        if c.userhash {
            return Err(AuthError::UnknownScheme);
        }
        if c.realm != self.realm {
            return Err(AuthError::WrongRealm);
        }
        let issued = self.nonce_issued(&c.nonce)?;
        if issued > now_unix.saturating_add(5) {
            // Issued in the future beyond clock skew between nodes.
            return Err(AuthError::BadNonce);
        }
        if now_unix.saturating_sub(issued) > self.nonce_ttl {
            return Err(AuthError::Stale);
        }
        let qop = match c.qop.as_deref() {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc_text = c.nc.as_deref().ok_or(AuthError::Malformed)?;
                let cnonce = c.cnonce.as_deref().ok_or(AuthError::Malformed)?;
                if nc_text.len() != 8 || !nc_text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AuthError::Malformed);
                }
                let nc = u32::from_str_radix(nc_text, 16).map_err(|_| AuthError::Malformed)?;
                if nc == 0 {
                    return Err(AuthError::Malformed);
                }
                Some((q, nc_text, cnonce, nc))
            }
            Some(_) => return Err(AuthError::UnknownScheme),
        };
        if sess && qop.is_none() {
            return Err(AuthError::Malformed);
        }
        let password = password_of(&c.username).ok_or(AuthError::UnknownUser)?;
        let expected = digest_response(
            alg,
            sess,
            &c.username,
            &self.realm,
            &password,
            method,
            &c.uri,
            &c.nonce,
            qop.map(|(q, t, cn, _)| (q, t, cn)),
        );
        if !ct_eq(
            expected.as_bytes(),
            c.response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(AuthError::BadResponse);
        }
        // Only a correct response touches the nc memory, so forged requests
        // cannot burn a legitimate client's counts or flush the memory.
        if let Some((_, _, _, nc)) = qop {
            self.check_nc(&c.nonce, issued, nc, now_unix)?;
        }
        Ok(c.username.clone())
    }

    fn check_nc(&mut self, nonce: &str, issued: u64, nc: u32, now: u64) -> Result<(), AuthError> {
        if let Some(w) = self.nc.get_mut(nonce) {
            return if w.accept(nc) {
                Ok(())
            } else {
                Err(AuthError::Replay)
            };
        }
        if self.evicted_floor.is_some_and(|f| issued <= f) {
            // Its counts may have been forgotten: make the client re-auth.
            return Err(AuthError::Stale);
        }
        while self.nc.len() >= self.nc_capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(w) = self.nc.remove(&old) {
                if now.saturating_sub(w.issued) <= self.nonce_ttl {
                    self.evicted_floor = Some(self.evicted_floor.unwrap_or(0).max(w.issued));
                }
            }
        }
        let mut w = NcWindow {
            issued,
            highest: 0,
            seen: 0,
        };
        w.accept(nc);
        self.nc.insert(nonce.to_string(), w);
        self.order.push_back(nonce.to_string());
        Ok(())
    }

    /// Forgets nonce-counts of nonces past their lifetime. Call now and then
    /// (e.g. once a minute); memory is bounded even without it.
    pub fn purge_expired(&mut self, now_unix: u64) {
        let ttl = self.nonce_ttl;
        self.nc
            .retain(|_, w| now_unix.saturating_sub(w.issued) <= ttl);
        let nc = &self.nc;
        self.order.retain(|n| nc.contains_key(n));
    }
}

/// Digest `uri` against the Request-URI: equal text, or equal SIP URIs by
/// scheme, user, host (case-insensitive) and port.
fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (Uri::parse(digest_uri), Uri::parse(request_uri)) {
        (Some(a), Some(b)) => {
            a.scheme == b.scheme
                && a.user_decoded() == b.user_decoded()
                && a.host.eq_ignore_ascii_case(b.host)
                && a.port == b.port
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn pw(user: &str) -> Option<String> {
        (user == "1001").then(|| "secret".to_string())
    }

    /// Builds an Authorization value the way SIPp does (no spaces, MD5,
    /// qop=auth, `algorithm` last).
    fn sipp_auth(nonce: &str, nc: &str, cnonce: &str, method: &str, uri: &str) -> String {
        let resp = digest_response(
            DigestAlgorithm::Md5,
            false,
            "1001",
            "switchboard",
            "secret",
            method,
            uri,
            nonce,
            Some(("auth", nc, cnonce)),
        );
        format!(
            "Digest username=\"1001\",realm=\"switchboard\",cnonce=\"{cnonce}\",nc={nc},qop=auth,uri=\"{uri}\",nonce=\"{nonce}\",response=\"{resp}\",algorithm=MD5"
        )
    }

    fn nonce_of(challenge: &str) -> String {
        let c = challenge.strip_prefix("Digest ").unwrap();
        auth_params(c)
            .map(Result::unwrap)
            .find(|(n, _)| *n == "nonce")
            .unwrap()
            .1
    }

    #[test]
    fn rfc2617_md5_vector() {
        // RFC 2617 §3.5.
        let r = digest_response(
            DigestAlgorithm::Md5,
            false,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("auth", "00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_sha256_and_md5_vectors() {
        // RFC 7616 §3.9.1 (the algorithms RFC 8760 brings to SIP).
        let args = (
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Some((
                "auth",
                "00000001",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            )),
        );
        let run = |alg| {
            digest_response(
                alg, false, args.0, args.1, args.2, args.3, args.4, args.5, args.6,
            )
        };
        assert_eq!(
            run(DigestAlgorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(
            run(DigestAlgorithm::Md5),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc2617_header_parses() {
        let h = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let c = Credentials::parse(h).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let esc = Credentials::parse(
            r#"digest username="a\"b", realm="r", nonce="n", uri="u", response="x""#,
        )
        .unwrap();
        assert_eq!(esc.username, "a\"b");
    }

    #[test]
    fn challenge_format_and_order() {
        let s = DigestServer::new("switchboard", b"k");
        let ch = s.challenges(NOW, true);
        assert!(ch[0].contains("algorithm=SHA-256"));
        assert!(ch[1].contains("algorithm=MD5"));
        assert!(ch[0].ends_with("qop=\"auth\", stale=true"));
        assert!(!s
            .challenge(NOW, false, DigestAlgorithm::Md5)
            .contains("stale"));
        assert_ne!(nonce_of(&ch[0]), nonce_of(&ch[1]));
    }

    #[test]
    fn sipp_style_md5_qop_auth_verifies_and_replay_is_rejected() {
        let mut s = DigestServer::new("switchboard", b"k");
        let nonce = nonce_of(&s.challenge(NOW, false, DigestAlgorithm::Md5));
        let uri = "sip:127.0.0.1:5060";
        let h1 = sipp_auth(&nonce, "00000001", "6b8b4567", "REGISTER", uri);
        assert_eq!(
            s.verify(&h1, "REGISTER", NOW + 1, pw).as_deref(),
            Ok("1001")
        );
        assert_eq!(
            s.verify(&h1, "REGISTER", NOW + 1, pw),
            Err(AuthError::Replay)
        );
        let h3 = sipp_auth(&nonce, "00000003", "6b8b4567", "REGISTER", uri);
        assert!(s.verify(&h3, "REGISTER", NOW + 2, pw).is_ok());
        // Reordered nc=2 still passes once; then it is a replay.
        let h2 = sipp_auth(&nonce, "00000002", "6b8b4567", "REGISTER", uri);
        assert!(s.verify(&h2, "REGISTER", NOW + 2, pw).is_ok());
        assert_eq!(
            s.verify(&h2, "REGISTER", NOW + 2, pw),
            Err(AuthError::Replay)
        );
        // Wrong method means a wrong response.
        let h4 = sipp_auth(&nonce, "00000004", "6b8b4567", "INVITE", uri);
        assert_eq!(
            s.verify(&h4, "REGISTER", NOW + 2, pw),
            Err(AuthError::BadResponse)
        );
    }

    #[test]
    fn captured_sipp_register_verifies() {
        // SIPp v3.6.1 `[authentication username=1001 password=secret]`
        // answering a challenge carrying this server's nonce (salt 1..=8).
        let mut s = DigestServer::new("switchboard", b"k");
        let nonce = s.nonce_with_salt(NOW, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            nonce,
            "000000006553f1000102030405060708c1f9d2c84194496e25068dc8938f34ba"
        );
        let h = "Digest username=\"1001\",realm=\"switchboard\",cnonce=\"6b8b4567\",nc=00000001,qop=auth,uri=\"sip:127.0.0.1:5999\",nonce=\"000000006553f1000102030405060708c1f9d2c84194496e25068dc8938f34ba\",response=\"e26fa17ed3a600ea8d3ff21475c505d5\",algorithm=MD5";
        assert_eq!(s.verify(h, "REGISTER", NOW + 3, pw).as_deref(), Ok("1001"));
        assert_eq!(s.verify(h, "REGISTER", NOW + 3, pw), Err(AuthError::Replay));
    }

    #[test]
    fn real_sipp_authorization_header_parses() {
        // Captured format from SIPp 3.x `[authentication]`.
        let h = "Digest username=\"1001\",realm=\"switchboard\",cnonce=\"6b8b4567\",nc=00000001,qop=auth,uri=\"sip:127.0.0.1:5060\",nonce=\"abc\",response=\"0123\",algorithm=MD5";
        let c = Credentials::parse(h).unwrap();
        assert_eq!(c.algorithm.as_deref(), Some("MD5"));
        assert_eq!(c.cnonce.as_deref(), Some("6b8b4567"));
        assert_eq!(c.uri, "sip:127.0.0.1:5060");
    }

    #[test]
    fn sha256_and_no_qop_forms_verify() {
        let mut s = DigestServer::new("switchboard", b"k");
        let nonce = s.nonce(NOW);
        let uri = "sip:5000@10.0.0.1";
        let resp = digest_response(
            DigestAlgorithm::Sha256,
            false,
            "1001",
            "switchboard",
            "secret",
            "INVITE",
            uri,
            &nonce,
            Some(("auth", "00000001", "xyz")),
        );
        let h = format!(
            "Digest username=\"1001\", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"xyz\""
        );
        assert!(s.verify(&h, "INVITE", NOW, pw).is_ok());
        // RFC 2069 form (no qop): no nonce-count, valid until the nonce expires.
        let resp = digest_response(
            DigestAlgorithm::Md5,
            false,
            "1001",
            "switchboard",
            "secret",
            "INVITE",
            uri,
            &nonce,
            None,
        );
        let h = format!(
            "Digest username=\"1001\", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\""
        );
        assert!(s.verify(&h, "INVITE", NOW, pw).is_ok());
        // -sess variant.
        let resp = digest_response(
            DigestAlgorithm::Md5,
            true,
            "1001",
            "switchboard",
            "secret",
            "INVITE",
            uri,
            &nonce,
            Some(("auth", "00000002", "c2")),
        );
        let h = format!(
            "Digest username=\"1001\", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5-sess, qop=auth, nc=00000002, cnonce=\"c2\""
        );
        assert_eq!(s.verify(&h, "INVITE", NOW, pw), Ok("1001".into()));
    }

    #[test]
    fn nonce_checks() {
        let mut s = DigestServer::new("switchboard", b"k").with_nonce_ttl(60);
        let nonce = s.nonce(NOW);
        let uri = "sip:x@y";
        let h = sipp_auth(&nonce, "00000001", "c", "REGISTER", uri);
        assert_eq!(
            s.verify(&h, "REGISTER", NOW + 61, pw),
            Err(AuthError::Stale)
        );
        // Another node with the same secret accepts it.
        let mut other = DigestServer::new("switchboard", b"k");
        assert!(other.verify(&h, "REGISTER", NOW + 10, pw).is_ok());
        // A node with another secret does not.
        let mut foreign = DigestServer::new("switchboard", b"other");
        assert_eq!(
            foreign.verify(&h, "REGISTER", NOW, pw),
            Err(AuthError::BadNonce)
        );
        // Tampered timestamp.
        let mut forged = nonce.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        let h = sipp_auth(&forged, "00000001", "c", "REGISTER", uri);
        assert_eq!(s.verify(&h, "REGISTER", NOW, pw), Err(AuthError::BadNonce));
        let h = sipp_auth("short", "00000001", "c", "REGISTER", uri);
        assert_eq!(s.verify(&h, "REGISTER", NOW, pw), Err(AuthError::BadNonce));
    }

    #[test]
    fn errors_by_cause() {
        let mut s = DigestServer::new("switchboard", b"k");
        let nonce = s.nonce(NOW);
        assert_eq!(
            s.verify("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "REGISTER", NOW, pw),
            Err(AuthError::UnknownScheme)
        );
        assert_eq!(
            s.verify("Digest username=\"1001\"", "REGISTER", NOW, pw),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            s.verify("Digest username=\"1001, realm=x", "REGISTER", NOW, pw),
            Err(AuthError::Malformed)
        );
        let h = sipp_auth(&nonce, "00000001", "c", "REGISTER", "sip:x")
            .replace("realm=\"switchboard\"", "realm=\"other\"");
        assert_eq!(
            s.verify(&h, "REGISTER", NOW, pw),
            Err(AuthError::WrongRealm)
        );
        // Only the username changes (the random nonce may contain "1001" too).
        let h = sipp_auth(&nonce, "00000001", "c", "REGISTER", "sip:x")
            .replace("username=\"1001\"", "username=\"1002\"");
        assert_eq!(
            s.verify(&h, "REGISTER", NOW, pw),
            Err(AuthError::UnknownUser)
        );
        let h = sipp_auth(&nonce, "00000001", "c", "REGISTER", "sip:x")
            .replace("qop=auth", "qop=auth-int");
        assert_eq!(
            s.verify(&h, "REGISTER", NOW, pw),
            Err(AuthError::UnknownScheme)
        );
        let h = sipp_auth(&nonce, "0000001", "c", "REGISTER", "sip:x");
        assert_eq!(s.verify(&h, "REGISTER", NOW, pw), Err(AuthError::Malformed));
        let h = sipp_auth(&nonce, "00000001", "c", "REGISTER", "sip:x")
            .replace("algorithm=MD5", "algorithm=SHA-512-256");
        assert_eq!(
            s.verify(&h, "REGISTER", NOW, pw),
            Err(AuthError::UnknownScheme)
        );
    }

    #[test]
    fn nc_memory_is_bounded_and_eviction_is_safe() {
        let mut s = DigestServer::new("switchboard", b"k").with_nc_capacity(4);
        let uri = "sip:x";
        let first = s.nonce(NOW);
        let h = sipp_auth(&first, "00000001", "c", "REGISTER", uri);
        assert!(s.verify(&h, "REGISTER", NOW, pw).is_ok());
        for i in 0..10 {
            let n = s.nonce(NOW + 1 + i);
            let h = sipp_auth(&n, "00000001", "c", "REGISTER", uri);
            assert!(s.verify(&h, "REGISTER", NOW + 1 + i, pw).is_ok());
            assert!(s.remembered_nonces() <= 4);
        }
        // The first nonce was forgotten: a replay of it is not accepted, the
        // client is asked to re-authenticate instead.
        assert_eq!(
            s.verify(&h_first(&first), "REGISTER", NOW + 12, pw),
            Err(AuthError::Stale)
        );
        s.purge_expired(NOW + 1000);
        assert_eq!(s.remembered_nonces(), 0);

        fn h_first(n: &str) -> String {
            sipp_auth(n, "00000001", "c", "REGISTER", "sip:x")
        }
    }

    #[test]
    fn verify_request_checks_the_request_uri() {
        let mut s = DigestServer::new("switchboard", b"k");
        let nonce = s.nonce(NOW);
        let uri = "sip:127.0.0.1:5060";
        let auth = sipp_auth(&nonce, "00000001", "c", "REGISTER", uri);
        let req = |ruri: &str| {
            let raw = format!(
                "REGISTER {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:1001@h>;tag=1\r\nTo: <sip:1001@h>\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nAuthorization: Digest username=\"x\", realm=\"elsewhere\", nonce=\"n\", uri=\"u\", response=\"r\"\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n\r\n"
            );
            Message::parse(bytes::Bytes::from(raw)).unwrap()
        };
        assert_eq!(
            s.verify_request(
                &req("sip:127.0.0.1:5061"),
                crate::HeaderName::Authorization,
                NOW,
                pw
            ),
            Err(AuthError::BadResponse)
        );
        assert_eq!(
            s.verify_request(&req(uri), crate::HeaderName::Authorization, NOW, pw)
                .as_deref(),
            Ok("1001")
        );
        assert_eq!(
            s.verify_request(&req(uri), crate::HeaderName::ProxyAuthorization, NOW, pw),
            Err(AuthError::WrongRealm)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut s = DigestServer::new("r", b"k");
        for h in [
            "",
            "Digest",
            "Digest ,,,,",
            "Digest a",
            "Digest a=\"",
            "Digest a=\"\\",
            "Digest =x",
            "Digest a=b c",
            "Digest a=\"b\"c",
            "Digest username=\"ü\", realm=\"r\", nonce=\"é\", uri=\"u\", response=\"r\", algorithm=é-sess",
        ] {
            assert!(s.verify(h, "INVITE", 0, |_| Some(String::new())).is_err());
        }
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_headers_never_panic(h in "\\PC{0,200}") {
                let mut s = DigestServer::new("r", b"k").with_nc_capacity(2);
                let _ = s.verify(&h, "INVITE", 0, |_| Some(String::new()));
                let _ = s.verify(&format!("Digest {h}"), "INVITE", u64::MAX, |_| None);
            }

            #[test]
            fn digest_shaped_headers_never_panic(
                parts in proptest::collection::vec(
                    ("(username|realm|nonce|uri|response|qop|nc|cnonce|algorithm|opaque)",
                     "[ -~]{0,20}", any::<bool>()), 0..12)
            ) {
                let body: Vec<String> = parts.iter().map(|(n, v, q)| {
                    if *q { format!("{n}=\"{v}\"") } else { format!("{n}={v}") }
                }).collect();
                let mut s = DigestServer::new("r", b"k");
                let _ = s.verify(&format!("Digest {}", body.join(", ")), "REGISTER", 10, |_| Some("p".into()));
            }
        }
    }
}
