//! The `codex-pool` binary: parse the command line and hand over to the library.
//!
//! The system allocator stays: mimalloc cut CPU per request by ~17% in the
//! load benchmark but raised memory per held stream from ~50 KB to ~78 KB and
//! idle RSS from 8 MB to 18 MB (BENCHMARKS.md); long-held streams are this
//! gateway's common case.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = codex_pool::cli::Cli::parse();
    codex_pool::cli::main(cli)
}
