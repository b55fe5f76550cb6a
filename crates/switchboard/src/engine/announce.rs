//! Position and estimated-wait announcements, and the goodbye a caller
//! hears when it leaves the queue unanswered, composed from the prompt
//! folder (`[media] prompts`): `you-are-caller-number` + `7` +
//! `estimated-wait` + `3` + `minutes`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use router::CallKey;

use media::Prompt;

use super::caller::CallState;
use super::finish::Party;
use super::{Engine, Timer};

#[derive(Default)]
pub struct Prompts {
    by_name: HashMap<String, Arc<Prompt>>,
}

impl Prompts {
    /// Loads every `*.wav` in `dir` by file stem; unreadable files are skipped.
    pub fn load(dir: Option<&Path>) -> Prompts {
        let mut by_name = HashMap::new();
        let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else {
            return Prompts { by_name };
        };
        for e in entries.flatten() {
            let path = e.path();
            if path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("wav"))
            {
                let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                match Prompt::from_wav(&path) {
                    Ok(p) => {
                        by_name.insert(stem.to_string(), Arc::new(p));
                    }
                    Err(e) => tracing::warn!(file = %path.display(), "prompt not loaded: {e}"),
                }
            }
        }
        Prompts { by_name }
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Prompt>> {
        self.by_name.get(name).cloned()
    }

    /// The prompt names that say `n` (0..=59).
    fn number(n: u64) -> Vec<String> {
        match n {
            0..=20 => vec![n.to_string()],
            21..=59 if n.is_multiple_of(10) => vec![n.to_string()],
            21..=59 => vec![(n / 10 * 10).to_string(), (n % 10).to_string()],
            _ => Vec::new(),
        }
    }

    /// The prompt names of "you are caller number N, your estimated wait
    /// time is M minutes".
    pub fn script(position: usize, ewt: Duration) -> Vec<String> {
        let mut names = Vec::new();
        if (1..=59).contains(&position) {
            names.push("you-are-caller-number".to_string());
            names.extend(Self::number(position as u64));
        }
        names.push("estimated-wait".to_string());
        let minutes = if ewt < Duration::from_secs(60) {
            0
        } else {
            ewt.as_secs().div_ceil(60)
        };
        match minutes {
            0 => names.push("less-than-a-minute".into()),
            1 => names.extend(["1".to_string(), "minute".into()]),
            2..=59 => {
                names.extend(Self::number(minutes));
                names.push("minutes".into());
            }
            _ => names.push("more-than-an-hour".into()),
        }
        names
    }

    /// Joins the named prompts; `None` if any is missing.
    pub fn compose(&self, names: &[String]) -> Option<Arc<Prompt>> {
        let parts: Option<Vec<Arc<Prompt>>> = names.iter().map(|n| self.get(n)).collect();
        let parts = parts?;
        let refs: Vec<&Prompt> = parts.iter().map(|p| p.as_ref()).collect();
        Some(Arc::new(Prompt::concat(&refs)))
    }
}

impl Engine {
    fn queued(&self, call: CallKey) -> Option<&super::Call> {
        self.calls
            .get(&call)
            .filter(|c| c.state == CallState::Queued && !c.exiting)
    }

    fn music_for(&self, queue: &str) -> Arc<Prompt> {
        self.music
            .get(queue)
            .cloned()
            .unwrap_or_else(|| Arc::clone(&self.default_music))
    }

    /// The router scheduled a position / wait announcement for a waiting caller.
    pub(super) fn announce(&mut self, call: CallKey, position: usize, ewt: Duration) {
        let Some(c) = self.queued(call) else { return };
        let session = c.session.id;
        let Some(prompt) = self.prompts.compose(&Prompts::script(position, ewt)) else {
            return;
        };
        tracing::debug!(call, position, ewt_s = ewt.as_secs(), "announcement");
        self.media.play(session, media::Leg::A, prompt, false);
        if let Some(c) = self.calls.get_mut(&call) {
            c.announcing = true;
        }
    }

    /// The caller overflowed to another queue: its music follows.
    pub(super) fn moved(&mut self, call: CallKey, from: &str, to: &str) {
        tracing::info!(call, from, to, "caller moved to another queue");
        let music = self.music_for(to);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.queue = to.to_string();
        if c.state == CallState::Queued && !c.announcing && !c.exiting {
            self.media.play(c.session.id, media::Leg::A, music, true);
        }
    }

    /// The caller leaves the queue unanswered: overflow to the queue's
    /// number through a trunk when it has one, else say goodbye and hang up.
    pub(super) fn exit_queue(&mut self, now: Instant, call: CallKey) {
        let number = self
            .queued(call)
            .and_then(|c| self.cfg.queue(&c.queue))
            .and_then(|q| q.overflow_number.as_ref().map(|n| n.get_ref().clone()));
        if let Some(number) = number {
            if self.dial_out(now, call, &number, 0) {
                return;
            }
            tracing::warn!(call, "overflow: no outbound trunk is up");
        }
        let queue_goodbye = self
            .calls
            .get(&call)
            .and_then(|c| self.exit_prompts.get(&c.queue))
            .cloned();
        let goodbye = queue_goodbye.or_else(|| self.prompts.get("goodbye"));
        match (self.queued(call).map(|c| c.session.id), goodbye) {
            (Some(session), Some(prompt)) => {
                let until = now + prompt.duration() + Duration::from_secs(2);
                self.media.play(session, media::Leg::A, prompt, false);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.exiting = true;
                }
                self.arm(until, Timer::ExitAfterPrompt { call });
            }
            _ => self.hang_up(now, call, Party::Engine, "timeout"),
        }
    }

    /// A one-shot prompt on the caller's leg ended.
    pub(super) fn play_finished(&mut self, now: Instant, session: media::SessionId) {
        let Some(c) = self.calls.values_mut().find(|c| c.session.id == session) else {
            return;
        };
        let call = c.key;
        if c.exiting {
            self.hang_up(now, call, Party::Engine, "timeout");
            return;
        }
        if c.announcing && c.state == CallState::Queued {
            c.announcing = false;
            let queue = c.queue.clone();
            let music = self.music_for(&queue);
            self.media.play(session, media::Leg::A, music, true);
        }
    }

    /// The caller pressed a key: remembered for the CDR; the queue's
    /// `exit_key` takes a waiting caller out of the queue.
    pub(super) fn caller_key(&mut self, now: Instant, session: media::SessionId, digit: char) {
        let Some(c) = self.calls.values_mut().find(|c| c.session.id == session) else {
            return;
        };
        if c.dtmf.len() < 64 {
            c.dtmf.push(digit);
        }
        let (call, queue) = (c.key, c.queue.clone());
        tracing::debug!(call, %digit, "caller key");
        let exit = self
            .cfg
            .queue(&queue)
            .and_then(|q| q.exit_key.as_ref())
            .is_some_and(|k| k.get_ref().starts_with(digit));
        if exit && self.queued(call).is_some() {
            tracing::info!(call, %digit, "caller pressed the exit key");
            self.router.abandon(call, now);
            self.exit_queue(now, call);
        }
    }

    /// One queue_log line, stamped with the wall-clock time.
    pub(super) fn queue_log(&mut self, now: Instant, ev: &router::QueueLogEvent) {
        let debug = tracing::enabled!(target: "queue_log", tracing::Level::DEBUG);
        if !debug && !self.queue_log.is_open() {
            return;
        }
        // `{"time":"…",` then the event's own fields.
        let Ok(fields) = serde_json::to_vec(ev) else {
            return;
        };
        let mut line = Vec::with_capacity(fields.len() + 40);
        line.extend_from_slice(b"{\"time\":\"");
        line.extend_from_slice(crate::cdr::rfc3339(self.wall(now)).as_bytes());
        line.extend_from_slice(b"\"");
        match fields.get(1..) {
            Some(rest) if rest.first() != Some(&b'}') => {
                line.push(b',');
                line.extend_from_slice(rest);
            }
            _ => line.push(b'}'),
        }
        if debug {
            tracing::debug!(target: "queue_log", "{}", String::from_utf8_lossy(&line));
        }
        if let Err(e) = self.queue_log.write_line(line) {
            tracing::warn!("queue_log write failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_say_position_and_wait() {
        let s = |p, secs| Prompts::script(p, Duration::from_secs(secs)).join(" ");
        assert_eq!(
            s(3, 150),
            "you-are-caller-number 3 estimated-wait 3 minutes"
        );
        assert_eq!(
            s(34, 20),
            "you-are-caller-number 30 4 estimated-wait less-than-a-minute"
        );
        assert_eq!(s(1, 60), "you-are-caller-number 1 estimated-wait 1 minute");
        assert_eq!(s(80, 7200), "estimated-wait more-than-an-hour");
        assert_eq!(
            s(40, 0),
            "you-are-caller-number 40 estimated-wait less-than-a-minute"
        );
    }

    #[test]
    fn the_shipped_prompts_cover_every_script() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/media/prompts/en");
        let p = Prompts::load(Some(&dir));
        for position in 0..70 {
            for secs in [0, 30, 60, 61, 600, 3599, 3600, 90_000] {
                let names = Prompts::script(position, Duration::from_secs(secs));
                assert!(p.compose(&names).is_some(), "{names:?}");
            }
        }
        assert!(p.get("goodbye").is_some());
    }
}
