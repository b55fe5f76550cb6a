//! Admin API access: a bearer token read from a file or an environment
//! variable the config names (`[admin] token_file` / `token_env`), never
//! from the TOML itself. Without a token the API is open, which the config
//! allows only on a loopback bind.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;

use crate::config::{AdminSection, Config};

/// Config checks for `[admin]` access, as (span, message) pairs for
/// `config::validate` to turn into `file:line: message` errors.
pub fn check(admin: &AdminSection, listen: SocketAddr, base: &Path) -> Vec<(Range<usize>, String)> {
    let mut errs = Vec::new();
    match (&admin.token_file, &admin.token_env) {
        (Some(f), Some(_)) => errs.push((
            f.span(),
            "[admin] token_file and token_env are both set: keep one".into(),
        )),
        (Some(f), None) => {
            if let Err(e) = read_file(&base.join(f.get_ref())) {
                errs.push((f.span(), format!("[admin] token_file: {e}")));
            }
        }
        (None, Some(v)) => {
            if let Err(e) = read_env(v.get_ref()) {
                errs.push((v.span(), format!("[admin] token_env: {e}")));
            }
        }
        (None, None) if !listen.ip().is_loopback() => errs.push((
            admin.listen.span(),
            format!(
                "[admin] listen {listen} is not a loopback address and no token is configured: \
                 set token_file or token_env, or bind 127.0.0.1"
            ),
        )),
        (None, None) => {}
    }
    errs
}

/// The token the running config names (`None`: the API is open).
pub fn load(cfg: &Config) -> Result<Option<String>, String> {
    let admin = &cfg.raw.admin;
    if let Some(f) = &admin.token_file {
        let base = cfg.path.parent().unwrap_or(Path::new("."));
        return read_file(&base.join(f.get_ref())).map(Some);
    }
    if let Some(v) = &admin.token_env {
        return read_env(v.get_ref()).map(Some);
    }
    Ok(None)
}

fn read_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(token.to_string())
}

fn read_env(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Ok(_) => Err(format!("environment variable {name} is empty")),
        Err(_) => Err(format!("environment variable {name} is not set")),
    }
}

/// Compares without an early exit on the first differing byte.
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_compare() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cret", "s3cre"));
        assert!(!token_matches("s3cret", "s3cretX"));
        assert!(!token_matches("s3cret", ""));
    }

    #[test]
    fn non_loopback_without_token_is_a_config_error() {
        let text = "[admin]\nlisten = \"0.0.0.0:8080\"\n";
        let errs = crate::config::parse(Path::new("t.toml"), text).unwrap_err();
        let s = errs.to_string();
        assert!(s.contains("t.toml:2:") && s.contains("no token"), "{s}");
    }

    #[test]
    fn token_file_must_exist() {
        let text = "[admin]\nlisten = \"0.0.0.0:8080\"\ntoken_file = \"no-such-token\"\n";
        let errs = crate::config::parse(Path::new("/nonexistent/t.toml"), text).unwrap_err();
        let s = errs.to_string();
        assert!(s.contains("t.toml:3:") && s.contains("token_file"), "{s}");
    }

    #[test]
    fn token_env_must_be_set() {
        let text = "[admin]\ntoken_env = \"SWITCHBOARD_TEST_UNSET_TOKEN_VAR\"\n";
        let errs = crate::config::parse(Path::new("t.toml"), text).unwrap_err();
        assert!(
            errs.to_string().contains("t.toml:2: [admin] token_env"),
            "{errs}"
        );
    }
}
