//! Checking the local servers' payloads against the platforms' official typings:
//! `@grammyjs/types` for the Bot API and `discord-api-types` for Discord, pinned in
//! `testing/testkit/shapes/package.json` (and its lock file) and installed from npm with `npm ci`
//! (`.ci/run` does it; [`check`] does it when they are missing). A test turns each payload into
//! a TypeScript constant typed with the official type, and `tsc --strict` must accept them all:
//! a field the platform does not send is an excess property, a required one left out a missing
//! property, a wrong type or enum value a type error.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the typings are installed.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shapes")
}

/// `npm ci` in [`dir`], if the typings are not installed yet.
fn install() -> Result<(), String> {
    let dir = dir();
    if dir.join("node_modules/.bin/tsc").exists() {
        return Ok(());
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("npm does not run ({e}); on Debian: apt-get install nodejs npm"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm ci failed in {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Type-checks `source`, a TypeScript module, as `out/<name>.ts` (one file per test, checked
/// alone). Panics with tsc's findings, naming the file to read.
#[allow(clippy::panic)]
pub fn check(name: &str, source: &str) {
    if let Err(e) = install() {
        panic!("{e}");
    }
    let dir = dir();
    let file = dir.join("out").join(format!("{name}.ts"));
    let written =
        std::fs::create_dir_all(dir.join("out")).and_then(|()| std::fs::write(&file, source));
    if let Err(e) = written {
        panic!("cannot write {}: {e}", file.display());
    }
    let out = Command::new(dir.join("node_modules/.bin/tsc"))
        .args(["--noEmit", "--strict", "--target", "es2020"])
        .args(["--moduleResolution", "node", "--module", "commonjs"])
        .arg(&file)
        .current_dir(&dir)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "payloads that do not match the official typings ({}):\n{}",
            file.display(),
            String::from_utf8_lossy(&o.stdout)
        ),
        Err(e) => panic!("tsc does not run: {e}"),
    }
}
