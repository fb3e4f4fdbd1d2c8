//! The one proptest configuration of the workspace: deterministic in CI, long on request.
//!
//! Every property test uses [`fuzz_config`]. By default it runs the given number of cases from a
//! fixed seed, so a run on a clean clone is the same run everywhere; failures found once are kept
//! in the crate's `proptest-regressions/` (committed) and replayed first on every run.
//!
//! A long fuzz run of one target (the test names start with `fuzz_`):
//!
//! ```text
//! CIVICBRIDGE_FUZZ_CASES=2000000 CIVICBRIDGE_FUZZ_SEED=random \
//!     cargo test --release -p civicbridge-matrix fuzz_ -- --nocapture
//! ```
//!
//! `CIVICBRIDGE_FUZZ_CASES` sets the number of cases; `CIVICBRIDGE_FUZZ_SEED` a seed (a number,
//! or `random` for a new one each run; proptest prints the seed of a failing run and records the
//! case in `proptest-regressions/`).

use proptest::test_runner::{Config, RngSeed};

/// The seed every CI run uses.
pub const CI_SEED: u64 = 0xC1B1_D6E5_EED0_0013;

/// Proptest's configuration for `cases` cases from [`CI_SEED`], unless the environment asks for
/// a longer or different run (see the module docs).
pub fn fuzz_config(cases: u32) -> Config {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let cases = env("CIVICBRIDGE_FUZZ_CASES")
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(cases);
    let rng_seed = match env("CIVICBRIDGE_FUZZ_SEED").as_deref().map(str::trim) {
        Some("random") => RngSeed::Random,
        Some(s) => s.parse().map_or(RngSeed::Fixed(CI_SEED), RngSeed::Fixed),
        None => RngSeed::Fixed(CI_SEED),
    };
    Config {
        cases,
        rng_seed,
        // Shrinking a rare failure must not stall CI.
        max_shrink_iters: 4096,
        ..Config::default()
    }
}
