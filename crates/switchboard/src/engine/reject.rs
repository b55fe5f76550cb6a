//! Answers for requests that did not parse (RFC 3261 §8.2, RFC 4475): a
//! best-effort 400/505/513 built from whatever header lines are readable,
//! sent to the packet's source. Responses that fail to parse are dropped.

/// Builds an error response for raw bytes that failed to parse, when they
/// look like a request and carry enough of Via/From/To/Call-ID/CSeq to be
/// matched by the sender. `None` means: drop silently.
pub fn error_response(raw: &[u8], status: u16, reason: &str) -> Option<Vec<u8>> {
    let head_len = memfind(raw, b"\r\n\r\n").unwrap_or(raw.len()).min(8192);
    let head = String::from_utf8_lossy(&raw[..head_len]);
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    // Never answer a response or an ACK (RFC 3261 §17.2.1).
    if first.starts_with("SIP/") || first.starts_with("ACK ") || !first.contains(" SIP/") {
        return None;
    }
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    let mut have_via = false;
    let mut have = [false; 4];
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let canon = match name.as_str() {
            "via" | "v" => {
                have_via = true;
                "Via"
            }
            "from" | "f" => {
                have[0] = true;
                "From"
            }
            "to" | "t" => {
                have[1] = true;
                "To"
            }
            "call-id" | "i" => {
                have[2] = true;
                "Call-ID"
            }
            "cseq" => {
                have[3] = true;
                "CSeq"
            }
            _ => continue,
        };
        let value = value.trim();
        if value.len() > 1024 || value.bytes().any(|b| b < 0x20 && b != b'\t') {
            continue;
        }
        out.push_str(canon);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    // A Via is the least a response can be routed by (RFC 3261 §18.2.2);
    // whatever else is readable is copied so the sender can match it.
    if !have_via {
        return None;
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_broken_requests_and_drops_broken_responses() {
        let raw = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: -5\r\n\r\n";
        let r = String::from_utf8(error_response(raw, 400, "Bad Request").unwrap()).unwrap();
        assert!(r.starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(r.contains("Call-ID: x\r\n"));
        assert!(error_response(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 400, "x").is_none());
        assert!(error_response(b"\x00\xff\xfe garbage", 400, "x").is_none());
        let ack = b"ACK  SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 ACK\r\n\r\n";
        assert!(error_response(ack, 400, "x").is_none());
    }
}
