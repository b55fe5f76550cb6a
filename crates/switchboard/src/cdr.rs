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

    pub fn write<T: Serialize>(&mut self, cdr: &T) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(cdr).map_err(io::Error::other)?;
        line.push(b'\n');
        // One write call per record: O_APPEND keeps lines whole.
        f.write_all(&line)?;
        f.flush()
    }
}

/// RFC 3339 UTC with milliseconds, computed without a time crate.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
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
