//! The audit chain: sealing, verifying, reading back what was written, and hostile logs.
use super::*;

fn chain(n: u64) -> Vec<AuditEntry> {
    let mut prev = GENESIS.to_owned();
    (1..=n)
        .map(|seq| {
            let e = AuditEntry::seal(
                AuditDraft {
                    actor: "matrix:@mod:x".to_owned().into(),
                    action: AuditAction::Approved,
                    link: Some(LinkId::new("l")),
                    subject: Some(format!("#{seq}")),
                    detail: serde_json::json!({"text": "hello", "n": seq}),
                },
                seq,
                1000 + seq,
                prev.clone(),
            );
            prev = e.hash.clone();
            e
        })
        .collect()
}

#[test]
fn an_untouched_chain_verifies() {
    assert_eq!(verify(chain(5), Some(GENESIS)), Ok(5));
}

#[test]
fn an_altered_entry_is_named() {
    let mut c = chain(5);
    c[2].detail = serde_json::json!({"text": "goodbye", "n": 3});
    assert_eq!(
        verify(&c, Some(GENESIS)),
        Err(VerifyError::Altered { seq: 3 })
    );
}

#[test]
fn a_removed_entry_is_named() {
    let mut c = chain(5);
    c.remove(1);
    assert_eq!(
        verify(&c, Some(GENESIS)),
        Err(VerifyError::Broken {
            seq: 3,
            prev_seq: 1
        })
    );
}

#[test]
fn a_resealed_forgery_breaks_the_link_to_the_next_entry() {
    let mut c = chain(5);
    c[2].actor = "matrix:@intruder:x".to_owned().into();
    c[2].hash = c[2].compute_hash();
    assert_eq!(
        verify(&c, Some(GENESIS)),
        Err(VerifyError::Broken {
            seq: 4,
            prev_seq: 3
        })
    );
}

#[test]
fn a_mid_chain_export_verifies_its_own_links_and_says_where_it_starts() {
    let c = chain(6);
    let tail = since(&c, 1004);
    assert_eq!(tail.first().map(|e| e.seq), Some(4));
    let v = verify_export(tail).expect("intact");
    assert_eq!((v.entries, v.first_seq, v.last_seq), (3, Some(4), Some(6)));
    assert!(v.mid_chain());
    assert!(v.to_string().contains("starts mid-chain at seq 4"), "{v}");
    let whole = verify_export(&c).expect("intact");
    assert!(!whole.mid_chain());
    // Inside a mid-chain export, a removed entry is still named.
    let mut gap = tail.to_vec();
    gap.remove(1);
    assert_eq!(
        verify_export(&gap),
        Err(VerifyError::Broken {
            seq: 6,
            prev_seq: 4
        })
    );
    // An export claiming to start at the beginning must start at the genesis hash.
    let mut forged = c[..2].to_vec();
    forged[0].prev_hash = "ab".repeat(32);
    forged[0].hash = forged[0].compute_hash();
    assert_eq!(
        verify_export(&forged),
        Err(VerifyError::BadGenesis { seq: 1 })
    );
    assert!(since(&c, 9999).is_empty());
}

#[test]
fn since_accepts_dates_and_rfc3339() {
    assert_eq!(parse_since("1970-01-02"), Ok(86_400_000));
    assert_eq!(parse_since("1970-01-02T00:00:01Z"), Ok(86_401_000));
    assert_eq!(parse_since("1970-01-02T01:00:01+01:00"), Ok(86_401_000));
    assert!(parse_since("yesterday").unwrap_err().contains("RFC 3339"));
    assert_eq!(rfc3339(86_401_000), "1970-01-02T00:00:01Z");
}

#[test]
fn jsonl_round_trip() {
    let c = chain(3);
    let text: String = c
        .iter()
        .map(|e| serde_json::to_string(e).expect("json") + "\n")
        .collect();
    assert_eq!(parse_jsonl(&text).expect("parses"), c);
    assert!(matches!(
        parse_jsonl("{nope\n"),
        Err(VerifyError::Unreadable { line: 1, .. })
    ));
}

/// Hostile files for `audit verify --file`: random lines, valid chains with fields removed,
/// numbers at and past the limits, deep nesting. Every one gets a clear answer (an error or a
/// count), never a panic. Fixed seed and bounded cases for CI; failures are kept under
/// `proptest-regressions/`.
mod hostile {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    /// The workspace's one proptest configuration (fixed seed in CI, long on request).
    fn config() -> Config {
        civicbridge_api::testing::fuzz_config(256)
    }

    /// Parses and verifies like the CLI does.
    fn check(text: &str) {
        if let Ok(entries) = parse_jsonl(text) {
            let _ = verify_export(&entries);
            let _ = verify(&entries, Some(GENESIS));
        }
    }

    fn valid_lines(n: u64) -> Vec<String> {
        chain(n)
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect()
    }

    /// A JSON value nested `depth` deep, of arrays or objects.
    fn nested(depth: usize, objects: bool) -> String {
        if objects {
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        } else {
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Whatever text an entry's actor holds, it is written back exactly, so reading
        /// a log never changes a hash (`Telegram: 42`, `person:`, control characters …).
        #[test]
        fn fuzz_actor_text_round_trips_exactly(text in ".{0,40}", pick in 0usize..7) {
            let text = match pick {
                0 => text,
                1 => format!("Telegram:{text}"),
                2 => format!("person:{text}"),
                3 => format!("matrix: {text}"),
                4 => format!("{text}:{text}"),
                5 => format!("token:{text}"),
                _ => format!(" cli{text}"),
            };
            let actor = AuditActor::from(text.clone());
            prop_assert_eq!(actor.to_string(), text.clone());
            prop_assert!(actor == text.as_str());
            let json = serde_json::to_string(&actor).unwrap_or_default();
            prop_assert_eq!(serde_json::from_str::<AuditActor>(&json).ok(), Some(actor));
        }

        #[test]
        fn fuzz_random_lines_never_panic(lines in proptest::collection::vec(".{0,200}", 0..8)) {
            check(&lines.join("\n"));
        }

        #[test]
        fn fuzz_mutated_chains_never_panic(
            n in 1u64..6,
            victim in 0usize..6,
            field in prop::sample::select(vec!["seq", "at_ms", "actor", "action", "link", "subject", "detail", "prev_hash", "hash"]),
            mutation in 0u8..6,
            depth in 1usize..4000,
        ) {
            let mut lines = valid_lines(n);
            let i = victim % lines.len();
            let mut v: serde_json::Value = serde_json::from_str(&lines[i]).unwrap_or_default();
            let huge = "1".repeat(depth.min(400));
            let replaced = match mutation {
                0 => { if let Some(o) = v.as_object_mut() { o.remove(field); } None }
                1 => Some(huge.clone()),
                2 => Some(format!("-{huge}")),
                3 => Some(format!("{huge}e{depth}")),
                4 => Some(nested(depth, depth % 2 == 0)),
                _ => Some(u64::MAX.to_string()),
            };
            let mut line = serde_json::to_string(&v).unwrap_or_default();
            if let Some(r) = replaced {
                if let Some(o) = v.as_object_mut() {
                    o.insert(field.to_owned(), serde_json::json!("PLACEHOLDER"));
                }
                line = serde_json::to_string(&v)
                    .unwrap_or_default()
                    .replace("\"PLACEHOLDER\"", &r);
            }
            lines[i] = line;
            check(&lines.join("\n"));
        }

        /// Entries whose hashes are right but whose sequence numbers are hostile (a forger
        /// can always recompute a hash): refused with a clear error, no overflow.
        #[test]
        fn fuzz_resealed_entries_with_extreme_sequence_numbers_never_panic(
            seqs in proptest::collection::vec(prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), Just(0u64), any::<u64>()], 1..5),
        ) {
            let mut prev = GENESIS.to_owned();
            let entries: Vec<AuditEntry> = seqs
                .iter()
                .map(|seq| {
                    let e = AuditEntry::seal(
                        AuditDraft {
                            actor: crate::moderation::audit::AuditActor::Cli,
                            action: AuditAction::Held,
                            link: None,
                            subject: None,
                            detail: serde_json::json!({}),
                        },
                        *seq,
                        0,
                        prev.clone(),
                    );
                    prev = e.hash.clone();
                    e
                })
                .collect();
            let _ = verify_export(&entries);
            let _ = verify(&entries, Some(GENESIS));
        }
    }
}
