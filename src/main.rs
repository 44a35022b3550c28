//! The `codex-pool` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = codex_pool::cli::Cli::parse();
    codex_pool::cli::main(cli)
}
