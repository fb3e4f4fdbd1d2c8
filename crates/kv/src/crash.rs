//! A harness for durability tests that crash for real: the test binary re-runs itself as a
//! child (one test, `--exact`, with an environment variable naming the data directory); the
//! child commits and flushes, reporting each flush as a `durable N` line on stdout; the test
//! SIGKILLs it once it has reported enough, then reopens the data and checks what survived.
//! Used by this crate's engine test and by the daemon's store test, which write different
//! things through the same harness.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that makes a test process the child; its value is the data
/// directory.
pub const CHILD: &str = "CB_CRASH_CHILD";

/// In a test: the data directory when this process is the child, `None` in the test itself.
/// A child also exits as soon as the test goes away (its end of the child's stdin closes),
/// however the test ends.
pub fn child_dir() -> Option<String> {
    let dir = std::env::var(CHILD).ok()?;
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    Some(dir)
}

/// In the child: reports that every transaction up to `n` is durable.
pub fn report_durable(n: u64) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "durable {n}").expect("the test reads the child's stdout");
    out.flush().expect("the test reads the child's stdout");
}

/// Runs `test` (its full name in this binary) as the child on `dir` until it has reported at
/// least `at_least` durable transactions, then kills it with SIGKILL. Returns the last
/// transaction it reported durable. Panics if the child stops early or takes over two minutes.
pub fn run_and_kill(test: &str, dir: &Path, at_least: u64) -> u64 {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let mut durable = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("the child writes lines");
        if let Some(n) = line.strip_prefix("durable ") {
            durable = n.parse().expect("the child reports numbers");
            if durable >= at_least {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the child is too slow");
    }
    child.kill().expect("the child can be killed");
    child.wait().expect("the child is reaped");
    assert!(durable >= at_least, "the child stopped early");
    durable
}
