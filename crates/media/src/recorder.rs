//! Call recording: stereo WAV files (caller left, agent right), written by
//! one writer thread per engine so a slow disk never stalls a media worker.
//!
//! A media worker hands each 20 ms stereo frame to the writer over a
//! bounded channel; when the channel is full the frame is dropped and
//! counted (the recording then has a gap, the call does not). The writer
//! patches the RIFF sizes when the recording ends, so a file that was
//! closed cleanly is a valid WAV; one cut short by a crash still has the
//! audio, and its header says zero length.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Samples per channel in one frame (20 ms at 8 kHz).
pub const FRAME: usize = 160;
/// Sample rate of recordings.
pub const RATE: u32 = 8000;
/// Frames buffered between the workers and the writer (about 20 s of one
/// call, or 0.2 s of 100 recorded calls).
const QUEUE: usize = 1024;

/// Frames travel by value: no allocation per 20 ms on the media worker,
/// which matters more than the size of the rare control messages.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RecMsg {
    Open { id: u64, path: PathBuf },
    Frame { id: u64, pcm: [i16; 2 * FRAME] },
    Close { id: u64 },
}

/// Counters of the writer.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Recordings opened.
    pub opened: AtomicU64,
    /// Recordings closed with a valid header.
    pub closed: AtomicU64,
    /// Frames written.
    pub frames: AtomicU64,
    /// Frames dropped because the writer fell behind.
    pub dropped: AtomicU64,
    /// Files that could not be created or written.
    pub errors: AtomicU64,
}

/// The worker-side handle of the writer thread.
#[derive(Clone)]
pub(crate) struct RecorderHandle {
    tx: SyncSender<RecMsg>,
    pub stats: Arc<RecorderStats>,
}

impl std::fmt::Debug for RecorderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderHandle").finish_non_exhaustive()
    }
}

impl RecorderHandle {
    /// Starts the writer thread; it ends when every handle is dropped.
    pub(crate) fn start() -> std::io::Result<RecorderHandle> {
        let (tx, rx) = sync_channel(QUEUE);
        let stats = Arc::new(RecorderStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("media-recorder".into())
            .spawn(move || writer(rx, &s))?;
        Ok(RecorderHandle { tx, stats })
    }

    /// Control messages wait for room (they are rare and must not be lost).
    pub(crate) fn control(&self, msg: RecMsg) {
        let _ = self.tx.send(msg);
    }

    /// A frame is dropped (and counted) rather than block the worker.
    pub(crate) fn frame(&self, id: u64, pcm: [i16; 2 * FRAME]) {
        match self.tx.try_send(RecMsg::Frame { id, pcm }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.dropped.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

struct Open {
    out: BufWriter<File>,
    frames: u64,
    path: PathBuf,
}

fn writer(rx: Receiver<RecMsg>, stats: &RecorderStats) {
    let mut open: HashMap<u64, Open> = HashMap::new();
    let mut bytes = [0u8; 4 * FRAME];
    while let Ok(msg) = rx.recv() {
        match msg {
            RecMsg::Open { id, path } => match create(&path) {
                Ok(out) => {
                    stats.opened.fetch_add(1, Relaxed);
                    open.insert(
                        id,
                        Open {
                            out,
                            frames: 0,
                            path,
                        },
                    );
                }
                Err(e) => {
                    stats.errors.fetch_add(1, Relaxed);
                    tracing::warn!(file = %path.display(), "recording not started: {e}");
                }
            },
            RecMsg::Frame { id, pcm } => {
                let Some(o) = open.get_mut(&id) else { continue };
                for (d, s) in bytes.chunks_exact_mut(2).zip(pcm.iter()) {
                    d.copy_from_slice(&s.to_le_bytes());
                }
                if o.out.write_all(&bytes).is_ok() {
                    o.frames += 1;
                    stats.frames.fetch_add(1, Relaxed);
                } else {
                    stats.errors.fetch_add(1, Relaxed);
                }
            }
            RecMsg::Close { id } => {
                if let Some(o) = open.remove(&id) {
                    finish(o, stats);
                }
            }
        }
    }
    // Every handle is gone (engine dropped): close what is still open.
    for (_, o) in open.drain() {
        finish(o, stats);
    }
}

fn create(path: &std::path::Path) -> std::io::Result<BufWriter<File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = BufWriter::with_capacity(64 * 1024, File::create(path)?);
    out.write_all(&header(0))?;
    Ok(out)
}

fn finish(mut o: Open, stats: &RecorderStats) {
    let data = o.frames * 4 * FRAME as u64;
    let r = (|| {
        o.out.flush()?;
        let f = o.out.get_mut();
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&header(data.min(u32::MAX as u64 - 36) as u32))?;
        f.sync_data()
    })();
    match r {
        Ok(()) => {
            stats.closed.fetch_add(1, Relaxed);
        }
        Err(e) => {
            stats.errors.fetch_add(1, Relaxed);
            tracing::warn!(file = %o.path.display(), "recording not finished: {e}");
        }
    }
}

/// The RIFF/WAVE header of a recording: 16-bit stereo at [`RATE`].
fn header(data_len: u32) -> [u8; 44] {
    crate::wav::wav_header(data_len, RATE, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_valid_stereo_wav() {
        let dir = std::env::temp_dir().join(format!("sb-rec-{}", std::process::id()));
        let path = dir.join("x").join("call.wav");
        let h = RecorderHandle::start().unwrap();
        h.control(RecMsg::Open {
            id: 7,
            path: path.clone(),
        });
        for i in 0..50 {
            let mut pcm = [0i16; 2 * FRAME];
            for (k, s) in pcm.chunks_exact_mut(2).enumerate() {
                s[0] = (i * 10 + k) as i16; // left
                s[1] = -((i * 10 + k) as i16); // right
            }
            h.frame(7, pcm);
        }
        h.control(RecMsg::Close { id: 7 });
        let stats = h.stats.clone();
        drop(h);
        // The writer ends when the last handle is gone; wait for the close.
        for _ in 0..500 {
            if stats.closed.load(Relaxed) == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 44 + 50 * 4 * FRAME);
        assert_eq!(&bytes[..44], &header((50 * 4 * FRAME) as u32));
        // Left and right interleaved as sent.
        assert_eq!(i16::from_le_bytes([bytes[44 + 4], bytes[45 + 4]]), 1);
        assert_eq!(i16::from_le_bytes([bytes[46 + 4], bytes[47 + 4]]), -1);
        let wav = crate::wav::read_wav(&bytes).unwrap();
        assert_eq!(wav.rate, RATE);
        assert_eq!(wav.samples.len(), 50 * FRAME);
        assert_eq!(stats.frames.load(Relaxed), 50);
        let _ = std::fs::remove_dir_all(dir);
    }
}
