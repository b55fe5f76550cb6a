//! Call detail records: one JSON object per line, written and flushed when
//! the call ends, so a crash loses no finished call.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cdr {
    pub call_id: String,
    pub caller: String,
    pub called: String,
    pub trunk: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    /// RFC 3339 UTC timestamps.
    pub arrived: String,
    pub answered: Option<String>,
    pub bridged: Option<String>,
    pub ended: String,
    pub wait_seconds: f64,
    pub talk_seconds: f64,
    /// "caller", "agent", "engine" or "none".
    pub hangup_by: &'static str,
    /// "completed", "abandoned", "timeout", "rejected", "failed", "rtp-timeout".
    pub outcome: &'static str,
    /// Final SIP status sent to the caller when not answered.
    pub sip_status: Option<u16>,
    pub agents_tried: Vec<String>,
    /// Keys the caller pressed.
    pub dtmf: String,
    /// Blind transfers by agents, `agent>number`, in order.
    pub transfers: Vec<String>,
    pub rtp: Option<media::StatsSnapshot>,
    /// The call's recording (WAV), when its queue records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
}

/// Appends JSON objects, one per line, flushed per record (CDRs, queue_log).
pub struct CdrWriter {
    file: Option<File>,
}

impl CdrWriter {
    pub fn open(path: &Path) -> io::Result<CdrWriter> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(CdrWriter { file: Some(file) })
    }

    /// A writer that drops records (for unit tests of the engine).
    pub fn discard() -> CdrWriter {
        CdrWriter { file: None }
    }

    /// Whether records go anywhere (a discarding writer need not be fed).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    pub fn write<T: Serialize>(&mut self, cdr: &T) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let line = serde_json::to_vec(cdr).map_err(io::Error::other)?;
        self.write_line(line)
    }

    /// Appends one serialized JSON object (a newline is added).
    pub fn write_line(&mut self, mut line: Vec<u8>) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        line.push(b'\n');
        // One write call per record: O_APPEND keeps lines whole.
        f.write_all(&line)?;
        f.flush()
    }
}

/// RFC 3339 UTC with milliseconds, computed without a time crate (and
/// without `format!`: several are written per call).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, dd) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y.clamp(0, 9999) as u64);
    put(5, 2, m.into());
    put(8, 2, dd.into());
    put(11, 2, (rem / 3600) as u64);
    put(14, 2, (rem % 3600 / 60) as u64);
    put(17, 2, (rem % 60) as u64);
    put(20, 3, d.subsec_millis().into());
    // Only ASCII digits and separators were written.
    String::from_utf8_lossy(&b).into_owned()
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
