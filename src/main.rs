//! The `codex-pool` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the request path allocates many small, short-lived buffers, and
/// the load benchmark measured about 17% less CPU per request than with the
/// system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = codex_pool::cli::Cli::parse();
    codex_pool::cli::main(cli)
}
