//! `switchboard --config FILE` runs the engine; `switchboard --check FILE`
//! validates a config and prints every error as `file:line: message`.

/// mimalloc rather than the system allocator: the router's decisions touch
/// memory spread over many small allocations, and mimalloc's size-class
/// pages keep them closer (routing p99, agent freed with nobody waiting:
/// median 4.4 µs against 5.2 µs over 22 runs; crates/router/README.md,
/// "Allocator").
/// Signaling CPU per call is the same within noise; the engine's baseline
/// RSS grows by about 21 MB (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use switchboard::config;

fn usage() -> ExitCode {
    eprintln!("usage: switchboard [--config FILE] [--check FILE] [--log-json]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_path = PathBuf::from("config/switchboard.toml");
    let mut check = false;
    let mut json = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => match args.next() {
                Some(p) => config_path = p.into(),
                None => return usage(),
            },
            "--check" => match args.next() {
                Some(p) => {
                    config_path = p.into();
                    check = true;
                }
                None => return usage(),
            },
            "--log-json" => json = true,
            "--help" | "-h" => {
                usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    let cfg = match config::load(&config_path) {
        Ok(c) => c,
        Err(errs) => {
            eprint!("{errs}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        println!("{}: OK", config_path.display());
        return ExitCode::SUCCESS;
    }
    switchboard::logging::init(json);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(switchboard::server::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}
