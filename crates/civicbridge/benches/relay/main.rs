//! Relay benchmark on real parts: the shipped `civicbridge` binary as a child process, a real
//! Synapse, and (in the three-platform mode) the local Telegram and Discord servers.
//!
//! - `cargo bench --bench relay`: three platforms, 100 links ([`three`]).
//! - `BENCH_MODE=matrix cargo bench --bench relay`: one Matrix room to another under `auto`
//!   rules, a Matrix-only one-link daemon, set against a bare relay written here, the floor
//!   ([`matrix`], [`floor`]): latency, CPU seconds and log bytes per 1,000 relayed messages,
//!   peak and final RSS, and civicbridge ÷ floor.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod child;
mod floor;
mod matrix;
mod proc;
mod receiver;
mod three;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // This binary is also the floor relay, started by the Matrix mode as a child.
    if let Ok(spec) = std::env::var(floor::ENV) {
        floor::main(&spec);
        return;
    }
    child::kill_on_panic();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var("BENCH_MODE").as_deref() {
        Ok("matrix") => rt.block_on(matrix::run()),
        Ok("three") | Err(_) => rt.block_on(three::run()),
        Ok(other) => panic!("BENCH_MODE={other}: `matrix` or `three`"),
    }
}
