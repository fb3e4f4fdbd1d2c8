//! Without python3 the launcher says what to install. Its own test binary: it changes the
//! process environment.
#![cfg(feature = "synapse")]

use civicbridge_testkit::synapse::{ensure_venv, SynapseError};

#[test]
fn a_missing_python_names_the_packages_to_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Edition 2021: set_var is safe; no other test runs in this binary.
    std::env::set_var("CIVICBRIDGE_SYNAPSE_VENV", dir.path().join("venv"));
    std::env::set_var("CIVICBRIDGE_PYTHON", "/nonexistent/python3");
    let err = ensure_venv().expect_err("no python");
    assert!(matches!(err, SynapseError::NoPython(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("apt-get install python3 python3-venv"),
        "{text}"
    );
    assert!(!dir.path().join("venv").exists(), "nothing half-installed");
}
