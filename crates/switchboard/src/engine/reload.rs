//! Applying a new configuration to a running engine (SIGHUP, `POST
//! /api/v1/reload`): queues, agents, skills, routes, trunks, music and
//! timers change at once; callers keep their place and live calls go on.
//! Listeners, the RTP port range and the admin bind need a restart; a
//! change to them is reported, not applied.

use std::sync::Arc;
use std::time::Instant;

use super::Engine;
use crate::config::Config;

/// What a reload could not apply live.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    /// Settings that changed but take effect only after a restart.
    pub needs_restart: Vec<String>,
    /// Agents whose registration was dropped because they left the config.
    pub agents_removed: Vec<String>,
}

impl Engine {
    /// Applies `cfg` (already validated by [`crate::config::load`]).
    pub fn reload(&mut self, cfg: Config, now: Instant) -> ReloadReport {
        let mut report = ReloadReport::default();
        let old = &self.cfg;
        if old.listen != cfg.listen {
            report.needs_restart.push("[sip] listen".into());
        }
        if old.admin_listen != cfg.admin_listen {
            report.needs_restart.push("[admin] listen".into());
        }
        if old.raw.media.rtp_ports.get_ref() != cfg.raw.media.rtp_ports.get_ref()
            || old.raw.media.ip != cfg.raw.media.ip
            || old.raw.media.workers != cfg.raw.media.workers
        {
            report
                .needs_restart
                .push("[media] ip, rtp_ports, workers".into());
        }
        if old.raw.cdr.path != cfg.raw.cdr.path {
            report.needs_restart.push("[cdr] path".into());
        }
        let music = super::load_wavs(&cfg.music, "music");
        self.exit_prompts = super::load_wavs(&cfg.exit_announcements, "exit announcement");
        self.music = music;
        self.prompts = super::announce::Prompts::load(cfg.prompts.as_deref());
        self.overload.set_config(cfg.raw.overload.clone());
        let cfg = Arc::new(cfg);
        self.router.reload(cfg.router_config(), now);
        report.agents_removed = self.registrar.retain_agents(&cfg);
        self.cfg = cfg;
        self.load_trunks(now);
        tracing::info!(
            agents = self.cfg.raw.agents.len(),
            queues = self.cfg.raw.queues.len(),
            needs_restart = ?report.needs_restart,
            "configuration reloaded"
        );
        self.counters.reloads += 1;
        self.after_input(now);
        report
    }
}
