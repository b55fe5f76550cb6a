//! The wallboard in headless Chromium (Debian `chromium`, installed by
//! `scripts/test`): callers wait in a queue and an agent is paused while the
//! page loads; the DOM must show them, and a caller arriving while the page
//! is open, fed by the live event stream. A screenshot is saved under the
//! test's folder for a person to look at.

mod admin_common;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use admin_common::*;
use support::ua::Ua;
use support::*;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return PathBuf::from(name);
        }
    }
    panic!("chromium is missing: run scripts/test, which installs Debian's chromium package");
}

/// Runs headless Chromium on `url` with a fresh profile; returns stdout.
fn headless(browser: &Path, dir: &Path, url: &str, action: &[&str]) -> String {
    let profile = dir.join(format!("chromium-profile-{}", rand::random::<u32>()));
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1600,1000",
        // The page closes its event stream after two updates (`?updates=2`),
        // so virtual time can run out and the page is dumped.
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(action)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start chromium");
    let out = wait_with_timeout(child, Duration::from_secs(90));
    let _ = std::fs::remove_dir_all(&profile);
    out
}

fn wait_with_timeout(mut child: std::process::Child, within: Duration) -> String {
    use std::io::Read;
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut o) = stdout {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let deadline = std::time::Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            _ if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within {within:?}");
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    reader.join().unwrap_or_default()
}

/// A queue's table row, from its `data-queue` attribute to `</tr>`.
fn row<'a>(dom: &'a str, queue: &str) -> &'a str {
    let start = dom
        .find(&format!("data-queue=\"{queue}\""))
        .unwrap_or_else(|| panic!("no row for queue {queue}:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// An agent's card, from its `data-agent` attribute to the next card.
fn card<'a>(dom: &'a str, agent: &str) -> &'a str {
    let start = dom
        .find(&format!("data-agent=\"{agent}\""))
        .unwrap_or_else(|| panic!("no card for agent {agent}:\n{dom}"));
    let rest = &dom[start..];
    let end = rest[1..]
        .find("data-agent=")
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn wallboard_shows_waiting_callers_and_agent_states_live() {
    let browser = chromium();
    let base = port_block();
    let e = Engine::start(
        "wallboard",
        base,
        &config(
            base,
            &format!("{DEFAULT_TRUNK_AND_QUEUE}\n[[queue]]\nname = \"sales\"\n"),
        ),
    );
    // Agent 1001 registers and goes to lunch; 1002 never registers.
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    wait_for("1001 available", Duration::from_secs(5), || {
        get(e.admin, "/api/v1/agents/1001").json()["state"] == "available"
    });
    let r = post(
        e.admin,
        "/api/v1/agents/1001/pause",
        Some("{\"reason\": \"lunch\"}"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // Two callers wait in "support".
    let _callers = [Caller::queue(e.sip, "5000"), Caller::queue(e.sip, "5000")];
    wait_for("2 waiting", Duration::from_secs(5), || {
        get(e.admin, "/api/v1/queues/support").json()["waiting"] == 2
    });

    // The page listens for four updates; once its stream is open a third
    // caller arrives, which the page must show without reloading.
    let url = format!("http://{}/wallboard?updates=4", e.admin);
    let page = std::thread::spawn({
        let (browser, dir, url) = (browser.clone(), e.dir.clone(), url.clone());
        move || headless(&browser, &dir, &url, &["--dump-dom"])
    });
    wait_for("the page's event stream", Duration::from_secs(60), || {
        e.log().contains("wallboard stream opened")
    });
    let _third = Caller::queue(e.sip, "5000");
    let dom = page.join().expect("chromium thread");
    assert!(
        dom.contains("data-source=\"sse\"") && dom.contains("data-updates=\"4\""),
        "the page did not get four updates over the event stream:\n{dom}"
    );
    let history: Vec<&str> = dom
        .split("data-history=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap_or_default()
        .split(',')
        .collect();
    assert_eq!(
        history.first(),
        Some(&"2"),
        "waiting per update: {history:?}"
    );
    assert_eq!(
        history.last(),
        Some(&"3"),
        "waiting per update: {history:?}"
    );
    let support = row(&dom, "support");
    assert!(
        support.contains("class=\"big waiting\" data-value=\"3\">3<"),
        "support row should show 3 waiting:\n{support}"
    );
    assert!(support.contains("class=\"a-paused\">1<"), "{support}");
    let sales = row(&dom, "sales");
    assert!(
        sales.contains("class=\"big waiting\" data-value=\"0\">0<"),
        "{sales}"
    );
    let ada = card(&dom, "1001");
    assert!(
        ada.contains("data-state=\"paused\"") && ada.contains("reason: lunch"),
        "{ada}"
    );
    let other = card(&dom, "1002");
    assert!(other.contains("data-state=\"logged-out\""), "{other}");
    assert!(dom.contains("id=\"t-waiting\">3<"), "totals: 3 waiting");

    // A still picture for a person to look at.
    let png = e.dir.join("wallboard.png");
    headless(
        &browser,
        &e.dir,
        &url,
        &[&format!("--screenshot={}", png.display())],
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is missing or empty",
        png.display()
    );
    // The engine's folder stays after the test (the next run clears it).
    println!("wallboard screenshot: {}", png.display());
}
