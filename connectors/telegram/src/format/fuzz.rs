//! Entities both ways under the workspace's proptest configuration (fixed seed in CI). Failures
//! found once are replayed from `proptest-regressions/format/fuzz.txt`.

use super::{from_telegram, to_telegram, utf16_len};
use civicbridge_api::rich_text::{safe_code_lang, PARSE_DEPTH};
use civicbridge_api::testing::fuzz_config;
use proptest::prelude::*;
use teloxide::types::{MessageEntity, MessageEntityKind as K};

fn kind() -> impl Strategy<Value = K> {
    prop_oneof![
        Just(K::Bold),
        Just(K::Italic),
        Just(K::Code),
        Just(K::Spoiler),
        Just(K::Blockquote),
        Just(K::Underline),
        Just(K::Mention),
        Just(K::TextLink {
            url: "https://e.org/".parse().expect("url")
        }),
        "(rust|x```\n# h|)".prop_map(|l| K::Pre {
            language: (!l.is_empty()).then_some(l)
        }),
    ]
}

proptest! {
    #![proptest_config(fuzz_config(512))]

    /// Any text with any entities (overlapping, out of range, splitting a surrogate pair):
    /// no panic, the text kept exactly, a bounded tree; and what the bot sends for it has
    /// entities inside the text and reads back to itself.
    #[test]
    fn fuzz_telegram_entities_both_ways(
        text in "[a-z 😀é\n<*]{0,40}",
        ents in prop::collection::vec((kind(), 0usize..60, 0usize..60), 0..30),
    ) {
        let ents: Vec<MessageEntity> =
            ents.into_iter().map(|(k, o, l)| MessageEntity::new(k, o, l)).collect();
        let rich = from_telegram(&text, &ents);
        prop_assert!(rich.is_bounded(PARSE_DEPTH));
        prop_assert_eq!(rich.to_plain().replace('@', ""), text.replace('@', ""));
        let (out, sent) = to_telegram(&rich);
        let len = utf16_len(&out);
        for e in &sent {
            prop_assert!(e.length > 0 && e.offset + e.length <= len, "{:?} in {:?}", e, out);
            if let K::Pre { language: Some(l) } = &e.kind {
                prop_assert!(safe_code_lang(Some(l)).is_some(), "{:?}", l);
            }
        }
        // The same text, but for line breaks put between adjacent blocks.
        prop_assert_eq!(out.replace('\n', ""), rich.to_plain().replace('\n', ""));
        let back = from_telegram(&out, &sent);
        prop_assert_eq!(back.to_plain(), out.clone());
        prop_assert_eq!(to_telegram(&back), (out, sent), "stable after one round");
    }
}
