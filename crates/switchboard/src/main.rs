//! `switchboard --config FILE` runs the engine; `switchboard --check FILE`
//! validates a config and prints every error as `file:line: message`.

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
