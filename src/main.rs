//! The `signet` binary: parses the command line, builds the engine, runs one command.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: a warm review makes about a hundred small allocations (the JSON tree of the
/// request, the answer); glibc's malloc and free were a fifth of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.log_format);
    if rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a rustls crypto provider was already installed");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("signet: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::run(args.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("signet: {error:#}");
            ExitCode::from(2)
        }
    }
}
