//! Property tests: escaping makes any typed text arrive verbatim, as read by the local
//! Discord's independent markdown reader and by our own parser; formatted trees keep their
//! words through a round trip. Failures found once are replayed from
//! `proptest-regressions/format/properties.txt` (proptest names it after this file).
#![allow(clippy::unwrap_used)]

use super::{parse, render};
use civicbridge_api::rich_text::PARSE_DEPTH;
use civicbridge_api::testing::fuzz_config;
use civicbridge_api::{RemoteUserId, RichText, Span};
use civicbridge_testkit::discord::markdown::shown_text;
use civicbridge_testkit::discord::payloads::pings_everyone;
use proptest::prelude::*;

fn none(_: u64) -> Option<String> {
    None
}

/// Text rich in markup characters, mentions, URLs and line starts.
fn typed() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            atom(),
            Just("[x](https://e.x)".to_owned()),
            Just("https://x.org/a_b*c".to_owned()),
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

/// Typed text without URLs: inside bold or italic spans, a URL that itself contains `*` or
/// `_` can end the formatting early, in Discord as in our reading of it (a known limit).
fn typed_no_url() -> impl Strategy<Value = String> {
    prop::collection::vec(atom(), 0..24).prop_map(|v| v.concat())
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("**".to_owned()),
        Just("_".to_owned()),
        Just("__".to_owned()),
        Just("~~".to_owned()),
        Just("||".to_owned()),
        Just("`".to_owned()),
        Just("```".to_owned()),
        Just("\\".to_owned()),
        Just("> ".to_owned()),
        Just("# ".to_owned()),
        Just("- ".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("@everyone".to_owned()),
        Just("@here".to_owned()),
        Just("<@123>".to_owned()),
        Just("<#5>".to_owned()),
        Just("<".to_owned()),
        Just(">".to_owned()),
        "[a-zA-Zé0-9]{1,6}",
    ]
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,8}"
}

fn leaf() -> impl Strategy<Value = Span> {
    prop_oneof![
        word().prop_map(Span::Text),
        typed_no_url()
            .prop_filter("non-empty", |s| !s.is_empty())
            .prop_map(Span::Text),
        // White space alone between formatting (`<b><i>a</i> </b>` from Matrix).
        "[ \n]{1,2}".prop_map(Span::Text),
        word().prop_map(Span::Code),
        word().prop_map(|n| Span::Mention {
            user: Some(RemoteUserId::new("9")),
            name: n
        }),
        word().prop_map(|name| Span::GroupMention { name }),
    ]
}

fn tree() -> impl Strategy<Value = Vec<Span>> {
    // Link labels are words: a label that looks like a link is shown as `label (url)`.
    let span = leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Bold),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Italic),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Spoiler),
            (word(), prop::collection::vec(word(), 1..3)).prop_map(|(w, c)| Span::Link {
                url: format!("https://example.org/{w}"),
                children: vec![Span::Text(c.join(" "))]
            }),
        ]
    });
    prop::collection::vec(span, 0..6)
}

/// Any Discord markdown, including what a hostile resident types.
fn markdown() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            atom(),
            Just("||".to_owned()),
            Just("<@&1>".to_owned()),
            Just("[".to_owned()),
            Just("](https://e.x/".to_owned()),
            Just(")".to_owned()),
            Just(">>> ".to_owned()),
            Just("https://x.org/(a)".to_owned()),
            any::<char>().prop_map(String::from),
        ],
        0..64,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(fuzz_config(512))]

    #[test]
    fn fuzz_discord_typed_text_is_shown_verbatim(s in typed()) {
        let md = render(&RichText::plain(s.clone()));
        prop_assert_eq!(shown_text(&md, &none), s.clone(), "markdown: {}", md);
    }

    #[test]
    fn fuzz_discord_typed_text_parses_back_to_itself(s in typed()) {
        let md = render(&RichText::plain(s.clone()));
        prop_assert_eq!(parse(&md, &none).to_plain(), s, "markdown: {}", md);
    }

    #[test]
    fn fuzz_discord_rendered_text_never_pings(s in typed()) {
        let md = render(&RichText::plain(s));
        // Even if Discord parsed every mention (no allowed_mentions at all).
        prop_assert!(!pings_everyone(&md, None), "{}", md);
        prop_assert!(!md.contains("<@1"), "{}", md);
    }

    #[test]
    fn fuzz_discord_formatted_trees_keep_their_words(spans in tree()) {
        let t = RichText { spans };
        let md = render(&t);
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        prop_assert_eq!(words(&shown_text(&md, &none)), words(&t.to_plain()), "markdown: {}", md);
        prop_assert_eq!(words(&parse(&md, &none).to_plain()), words(&t.to_plain()), "markdown: {}", md);
    }

    /// Whatever a resident types: no panic, a bounded tree, and after one round trip (which
    /// may show a link's target next to its label) rendering and reading are stable.
    #[test]
    fn fuzz_discord_parse_any_markdown(md in markdown()) {
        let t = parse(&md, &none);
        prop_assert!(t.is_bounded(PARSE_DEPTH), "{:?}", t);
        let t2 = parse(&render(&t), &none);
        let again = render(&t2);
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        prop_assert_eq!(words(&parse(&again, &none).to_plain()), words(&t2.to_plain()), "markdown: {}", again);
    }

    /// Spoilers stay spoilers: every word of a spoiler is inside `||…||` as Discord reads it.
    #[test]
    fn fuzz_discord_spoilers_stay_hidden(spans in tree()) {
        let t = RichText { spans: vec![Span::Spoiler(spans)] };
        let md = render(&t);
        let back = parse(&md, &none);
        let outside: Vec<&Span> = back.spans.iter().filter(|s| !matches!(s, Span::Spoiler(_))).collect();
        prop_assert!(outside.iter().all(|s| matches!(s, Span::Text(t) if t.trim().is_empty())),
            "markdown: {} read as {:?}", md, back);
    }
}
