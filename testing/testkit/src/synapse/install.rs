//! The Synapse venv: created once per machine in a cache directory, reused by every later start.
//!
//! Two test binaries may start at the same moment; an exclusive file lock beside the venv makes
//! the second wait for the first instead of both writing into one directory. A stamp file written
//! last marks a finished install, so an interrupted one is redone from scratch.

use super::error::SynapseError;
use super::SYNAPSE_VERSION;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the venv lives: `$CIVICBRIDGE_SYNAPSE_VENV`, else
/// `$XDG_CACHE_HOME/civicbridge/synapse-venv`, else `~/.cache/civicbridge/synapse-venv`.
pub fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CIVICBRIDGE_SYNAPSE_VENV").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("civicbridge").join("synapse-venv")
}

/// The venv's python, which runs Synapse.
pub fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn stamp(venv: &Path) -> PathBuf {
    venv.join(format!(".civicbridge-synapse-{SYNAPSE_VERSION}"))
}

/// Makes sure the venv at [`venv_dir`] holds the pinned Synapse; blocking (call it off the
/// async runtime). Returns the venv directory.
pub fn ensure_venv() -> Result<PathBuf, SynapseError> {
    let venv = venv_dir();
    if stamp(&venv).exists() {
        return Ok(venv);
    }
    let parent = venv.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(SynapseError::io(parent))?;
    let lock_path = PathBuf::from(format!("{}.lock", venv.display()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(SynapseError::io(&lock_path))?;
    lock.lock().map_err(SynapseError::io(&lock_path))?;
    // Another process may have finished while we waited for the lock.
    if !stamp(&venv).exists() {
        install(&venv)?;
    }
    // The lock is released when `lock` is dropped.
    drop(lock);
    Ok(venv)
}

/// The interpreter that creates the venv: `$CIVICBRIDGE_PYTHON`, else `python3` on `PATH`.
fn system_python() -> String {
    std::env::var("CIVICBRIDGE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

fn install(venv: &Path) -> Result<(), SynapseError> {
    let python = system_python();
    let version = run(&python, &["--version"]).map_err(SynapseError::NoPython)?;
    tracing::info!(%version, venv = %venv.display(), "installing matrix-synapse=={SYNAPSE_VERSION}");
    let venv_str = venv.to_string_lossy().into_owned();
    run(&python, &["-m", "venv", "--clear", &venv_str]).map_err(SynapseError::NoVenv)?;
    let python = venv_python(venv);
    let spec = format!("matrix-synapse=={SYNAPSE_VERSION}");
    run(
        &python.to_string_lossy(),
        &[
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &spec,
        ],
    )
    .map_err(|output| SynapseError::Install {
        version: SYNAPSE_VERSION,
        venv: venv.to_owned(),
        output,
    })?;
    let stamp = stamp(venv);
    fs::write(&stamp, SYNAPSE_VERSION).map_err(SynapseError::io(stamp))
}

/// Runs a command to completion; `Err` carries what it printed (or why it could not start).
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program} {}: {e}", args.join(" ")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text.trim().to_owned())
    } else {
        Err(format!(
            "{program} {} exited with {}: {}",
            args.join(" "),
            out.status,
            tail(&text, 3000)
        ))
    }
}

/// The last `max` bytes of `text`, cut at a character boundary.
pub(crate) fn tail(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}
