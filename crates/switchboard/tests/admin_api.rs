//! The admin HTTP API against the real binary (issue: Operations): bearer
//! token, JSON errors (400/401/404/405/409/422), agent pause and unpause
//! as routing sees them, hang-up of a queued call, reload, drain, and the
//! Prometheus metrics the README documents.

mod admin_common;
mod support;

use std::time::Duration;

use admin_common::*;
use support::ua::Ua;
use support::*;

fn start(name: &str, extra: &str) -> Engine {
    let base = port_block();
    Engine::start(
        name,
        base,
        &config(base, &format!("{DEFAULT_TRUNK_AND_QUEUE}{extra}")),
    )
}

#[test]
fn bearer_token_guards_the_api_but_not_the_probes() {
    let base = port_block();
    let dir = std::env::temp_dir().join(format!("switchboard-tokenfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("admin.token"), "s3cret-token\n").unwrap();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE).replace(
        "[admin]\n",
        &format!(
            "[admin]\ntoken_file = \"{}\"\n",
            dir.join("admin.token").display()
        ),
    );
    let e = Engine::start("token", base, &toml);
    for path in ["/api/v1/queues", "/api/v1/agents/1001", "/api/v1/status"] {
        let r = request(e.admin, "GET", path, None, None);
        assert_eq!(r.status, 401, "{path} without a token: {r:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("token"));
        assert_eq!(
            r.header("WWW-Authenticate").as_deref(),
            Some("Bearer realm=\"switchboard\"")
        );
        let r = request(e.admin, "GET", path, Some("wrong"), None);
        assert_eq!(r.status, 401, "{path} with a wrong token: {r:?}");
        let r = request(e.admin, "GET", path, Some("s3cret-token"), None);
        assert_eq!(r.status, 200, "{path} with the token: {r:?}");
    }
    let r = request(e.admin, "POST", "/api/v1/drain", Some("nope"), None);
    assert_eq!(r.status, 401, "an action without the right token");
    // The event stream takes the token in the query (EventSource has no
    // headers); other routes do not.
    let r = request(
        e.admin,
        "GET",
        "/api/v1/events?access_token=bad",
        None,
        None,
    );
    assert_eq!(r.status, 401);
    let r = request(
        e.admin,
        "GET",
        "/api/v1/queues?access_token=s3cret-token",
        None,
        None,
    );
    assert_eq!(r.status, 401);
    let first = first_event(e.admin, "/api/v1/events?access_token=s3cret%2Dtoken");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("event: wallboard"), "{first}");
    assert!(first.contains("\"queues\":[{"), "{first}");
    // Probes, metrics, the page and the API document stay open.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/wallboard",
        "/api/v1/openapi.json",
    ] {
        assert_eq!(get(e.admin, path).status, 200, "{path} is open");
    }
}

/// Reads an event stream's head and first event, then hangs up.
fn first_event(admin: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !got.find("data:").is_some_and(|i| got[i..].contains("\n\n"))
        && std::time::Instant::now() < deadline
    {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    got
}

#[test]
fn non_loopback_bind_without_token_is_refused_with_file_and_line() {
    let base = port_block();
    let dir = std::env::temp_dir().join(format!("switchboard-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE).replace(
        &format!("listen = \"127.0.0.1:{}\"", base + 1),
        &format!("listen = \"0.0.0.0:{}\"", base + 1),
    );
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, &toml).unwrap();
    let line = toml
        .lines()
        .position(|l| l.contains("0.0.0.0"))
        .expect("listen line")
        + 1;
    for flag in ["--check", "--config"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg(flag)
            .arg(&path)
            .current_dir(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{flag} accepted an open non-loopback bind"
        );
        assert!(
            err.contains(&format!("switchboard.toml:{line}:")) && err.contains("no token"),
            "{flag}: {err}"
        );
    }
}

#[test]
fn errors_are_json_with_the_right_status() {
    let e = start("api-errors", "");
    let r = get(e.admin, "/api/v1/agents/9999");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["agent"], "9999");
    assert!(r.json()["error"].as_str().unwrap().contains("9999"));
    let r = post(e.admin, "/api/v1/agents/9999/pause", None);
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.json()["agent"], "9999");
    assert_eq!(get(e.admin, "/api/v1/queues/nope").json()["queue"], "nope");
    assert_eq!(get(e.admin, "/api/v1/calls/nope").status, 404);
    assert_eq!(post(e.admin, "/api/v1/calls/nope/hangup", None).status, 404);

    let r = get(e.admin, "/api/v1/no-such-thing");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("no route"));
    let r = request(e.admin, "DELETE", "/api/v1/agents/1001", None, None);
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].is_string());
    assert_eq!(get(e.admin, "/api/v1/drain").status, 405);

    // Not logged in (no phone registered): pause and logout are transitions
    // the state does not allow; login needs a registered phone.
    for action in ["pause", "unpause", "logout", "login"] {
        let r = post(e.admin, &format!("/api/v1/agents/1001/{action}"), None);
        assert_eq!(r.status, 409, "{action}: {r:?}");
        assert_eq!(r.json()["agent"], "1001");
        assert_eq!(r.json()["state"], "logged-out");
    }

    let ua = Ua::new(e.sip, "1001");
    assert_eq!(ua.register("pw1001"), 200);
    wait_for("1001 available", Duration::from_secs(5), || {
        get(e.admin, "/api/v1/agents/1001").json()["state"] == "available"
    });
    for bad in ["{bad json", "[1,2]", "{\"reason\": 5}", "{\"why\": \"x\"}"] {
        let r = post(e.admin, "/api/v1/agents/1001/pause", Some(bad));
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("JSON"));
    }
    let long = format!("{{\"reason\": \"{}\"}}", "x".repeat(300));
    assert_eq!(
        post(e.admin, "/api/v1/agents/1001/pause", Some(&long)).status,
        400
    );
    let huge = format!("{{\"reason\": \"{}\"}}", "x".repeat(100_000));
    let r = post(e.admin, "/api/v1/agents/1001/pause", Some(&huge));
    assert_eq!(r.status, 413, "{r:?}");
    assert!(r.json()["error"].is_string());
    assert_eq!(post(e.admin, "/api/v1/agents/1001/login", None).status, 409);
    assert_eq!(
        post(e.admin, "/api/v1/agents/1001/unpause", None).status,
        409
    );
    // Logout, then login again through the API (the phone stays registered).
    let r = post(e.admin, "/api/v1/agents/1001/logout", None);
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, "logged-out".into())
    );
    let r = post(e.admin, "/api/v1/agents/1001/login", None);
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, "available".into())
    );
    assert_eq!(r.json()["registered"], true);
}

#[test]
fn paused_agent_is_not_rung_until_unpaused() {
    let e = start("api-pause", "");
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
    assert_eq!(r.json()["state"], "paused");
    assert_eq!(r.json()["pause_reason"], "lunch");

    // A caller arrives: the only agent is paused, so it waits.
    let caller = std::thread::spawn({
        let sip = e.sip;
        move || {
            let c = Ua::new(sip, "carrier");
            let (rtp, tag) = c.call("5000");
            c.exchange_rtp(rtp, 30, b"CALR", b"AGNT");
            assert_eq!(c.hang_up("5000", &tag), 200);
        }
    });
    wait_for("a queued call", Duration::from_secs(5), || {
        get(e.admin, "/api/v1/queues/support").json()["waiting"] == 1
    });
    let calls = get(e.admin, "/api/v1/calls").json();
    assert_eq!(calls["calls"][0]["state"], "queued", "{calls}");
    assert_eq!(calls["calls"][0]["router"]["state"], "waiting", "{calls}");
    // Nothing rings the paused agent's phone.
    let mut buf = [0u8; 65_536];
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        if let Ok((n, _)) = agent.sip.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(
                !text.starts_with("INVITE"),
                "paused agent was rung:\n{text}"
            );
        }
    }
    // Unpaused, it is offered the waiting caller at once.
    let r = post(e.admin, "/api/v1/agents/1001/unpause", None);
    assert_eq!(r.status, 200, "{r:?}");
    let rtp = agent.answer();
    agent.exchange_rtp(rtp, 30, b"AGNT", b"CALR");
    agent.await_bye();
    caller.join().expect("caller thread");
    let cdrs = e.wait_cdrs(1);
    assert_eq!(cdrs[0]["outcome"], "completed", "{}", cdrs[0]);
    assert_eq!(cdrs[0]["agent"], "1001");

    // The completed call is counted, and every metric the README documents
    // is exported (a rejected INVITE first, so the rejection series exists).
    let stranger = Ua::new(e.sip, "carrier");
    assert_eq!(stranger.invite_status("9999").0, 404);
    let text = get(e.admin, "/metrics").body;
    assert!(
        text.contains("switchboard_calls_total{outcome=\"completed\"} 1"),
        "{text}"
    );
    assert!(text.contains("switchboard_invites_rejected_total{code=\"404\"} 1"));
    assert!(text.contains("switchboard_sip_requests_total{direction=\"in\",method=\"INVITE\"}"));
    assert!(text.contains("switchboard_sip_responses_total{direction=\"out\",code=\"200\"}"));
    assert!(text.contains("switchboard_call_setup_seconds_count{stage=\"bridged\"} 1"));
    assert!(text.contains("switchboard_call_setup_seconds_count{stage=\"agent_invite\"} 1"));
    assert!(text.contains("switchboard_queue_wait_seconds_count{queue=\"support\"} 1"));
    assert!(text.contains("switchboard_active_calls{state=\"bridged\"} 0"));
    let rtp_in = text
        .lines()
        .find(|l| l.starts_with("switchboard_rtp_packets_total{leg=\"caller\",direction=\"in\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(rtp_in >= 20, "caller RTP not counted:\n{text}");
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let section = readme
        .split("\n## Metrics")
        .nth(1)
        .expect("README has a Metrics section")
        .split("\n## ")
        .next()
        .unwrap();
    let documented: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("switchboard_"))
        .collect();
    assert!(documented.len() >= 20, "{documented:?}");
    for name in documented {
        assert!(
            text.contains(&format!("\n{name}")) || text.contains(&format!("# TYPE {name} ")),
            "README documents {name}, /metrics lacks it:\n{text}"
        );
    }
}

#[test]
fn hangup_of_a_queued_call_writes_a_cdr() {
    let e = start("api-hangup", "\n[[queue]]\nname = \"sales\"\n");
    let caller = Caller::queue(e.sip, "5000");
    let path = format!("/api/v1/calls/{}", enc(&caller.call_id));
    let r = get(e.admin, &path);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["call_id"], caller.call_id);
    assert_eq!(r.json()["queue"], "support");
    assert_eq!(r.json()["state"], "queued");
    let q = get(e.admin, "/api/v1/queues/support").json();
    assert_eq!(q["calls"][0]["call_id"], caller.call_id, "{q}");

    // Moving: validated, then the caller changes queue and keeps waiting.
    let mv = format!("{path}/move");
    assert_eq!(post(e.admin, &mv, Some("{")).status, 400);
    assert_eq!(post(e.admin, &mv, None).status, 400);
    assert_eq!(
        post(e.admin, &mv, Some("{\"queue\": \"nope\"}")).status,
        404
    );
    let r = post(e.admin, &mv, Some("{\"queue\": \"sales\"}"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(get(e.admin, &path).json()["queue"], "sales");
    assert_eq!(
        get(e.admin, "/api/v1/queues/sales").json()["calls"][0]["call_id"],
        caller.call_id
    );

    let r = post(e.admin, &format!("{path}/hangup"), None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        caller.next_status(Duration::from_secs(5), |s| s >= 200),
        Some(480)
    );
    let cdrs = e.wait_cdrs(1);
    assert_eq!(cdrs.len(), 1);
    let c = &cdrs[0];
    assert_eq!(c["call_id"], caller.call_id);
    assert_eq!(c["hangup_by"], "engine");
    assert_eq!(c["outcome"], "failed");
    assert_eq!(c["sip_status"], 480);
    assert_eq!(get(e.admin, &path).status, 404);
    assert_eq!(
        get(e.admin, "/api/v1/calls").json()["calls"],
        serde_json::json!([])
    );
}

#[test]
fn reload_reports_errors_with_lines_and_applies_good_configs() {
    let e = start("api-reload", "");
    let good = std::fs::read_to_string(e.dir.join("switchboard.toml")).unwrap();
    std::fs::write(
        e.dir.join("switchboard.toml"),
        format!("{good}\n[[route]]\nto = \"6000\"\nqueue = \"missing\"\n"),
    )
    .unwrap();
    let r = post(e.admin, "/api/v1/reload", None);
    assert_eq!(r.status, 422, "{r:?}");
    let errors = r.json()["errors"].clone();
    let first = errors[0].as_str().unwrap_or_default();
    assert!(
        first.contains("switchboard.toml:") && first.contains("\"missing\""),
        "{errors}"
    );
    // The running config stays.
    assert_eq!(
        get(e.admin, "/api/v1/queues").json()["queues"][0]["name"],
        "support"
    );

    std::fs::write(
        e.dir.join("switchboard.toml"),
        format!("{good}\n[[queue]]\nname = \"sales\"\n"),
    )
    .unwrap();
    let r = post(e.admin, "/api/v1/reload", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["reloaded"], true);
    assert_eq!(get(e.admin, "/api/v1/queues/sales").status, 200);
}

#[test]
fn drain_turns_readyz_off_and_exits_after_the_last_call() {
    let mut e = start("api-drain", "");
    assert_eq!(get(e.admin, "/readyz").json()["ready"], true);
    let caller = Caller::queue(e.sip, "5000");
    let r = post(e.admin, "/api/v1/drain", None);
    assert_eq!(r.status, 202);
    wait_for("readyz 503", Duration::from_secs(5), || {
        get(e.admin, "/readyz").status == 503
    });
    assert_eq!(get(e.admin, "/healthz").status, 200);
    // A new caller is refused while draining; the queued one is kept.
    let late = Ua::new(e.sip, "carrier");
    assert_eq!(late.invite_status("5000").0, 503);
    assert_eq!(
        get(e.admin, "/api/v1/calls").json()["calls"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Ending the last call ends the process: the answer may not make it out.
    let path = format!("/api/v1/calls/{}/hangup", enc(&caller.call_id));
    let status = post(e.admin, &path, None).status;
    assert!(status == 200 || status == 0, "hangup: {status}");
    assert!(
        e.wait_exit(Duration::from_secs(10)),
        "engine did not exit after draining"
    );
    assert_eq!(e.cdrs().len(), 1);
}
