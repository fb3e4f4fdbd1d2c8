//! Property-style checks of the formatting converters against the local server's own parsers:
//! whatever a person typed, the HTML rendering parses (as the Bot API parses it) back to exactly
//! the same text and the same entities as the entity rendering the connector sends.
#![allow(clippy::unwrap_used)]

use civicbridge_api::{RichText, Span};
use civicbridge_telegram::format::{from_telegram, to_html, to_telegram};
use civicbridge_testkit::telegram::parse_html;
use serde_json::Value;
use teloxide::types::MessageEntity;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn word(&mut self) -> String {
        const ATOMS: [&str; 16] = [
            "a", "<b>", "</i>", "&amp;", "&", "\"", "<", ">", "*", "_", "`", "😀", "é", "\\", " ",
            "[x](y)",
        ];
        (0..1 + self.next(4))
            .map(|_| ATOMS[self.next(ATOMS.len())])
            .collect()
    }

    fn spans(&mut self, depth: usize) -> Vec<Span> {
        (0..1 + self.next(4))
            .map(|_| match (self.next(6), depth < 2) {
                (0, true) => Span::Bold(self.spans(depth + 1)),
                (1, true) => Span::Italic(self.spans(depth + 1)),
                (2, _) => Span::Code(self.word()),
                (3, true) => Span::Link {
                    // `&` must be escaped in the href; the URL stays as `url` normalises it.
                    url: "https://example.org/?a=1&b=2".into(),
                    children: self.spans(depth + 1),
                },
                _ => Span::Text(self.word()),
            })
            .collect()
    }
}

fn entities_json(e: &[MessageEntity]) -> Vec<Value> {
    e.iter().map(|e| serde_json::to_value(e).unwrap()).collect()
}

#[test]
fn html_and_entity_renderings_agree_with_the_bot_api_parser() {
    let mut g = Gen(0x2545_f491_4f6c_dd1d);
    for _ in 0..1000 {
        let rich = RichText { spans: g.spans(0) };
        let (text, entities) = to_telegram(&rich);
        assert_eq!(
            text,
            rich.to_plain(),
            "entity rendering keeps every character"
        );
        let (parsed_text, parsed_entities) = parse_html(&to_html(&rich))
            .unwrap_or_else(|e| panic!("HTML rendering does not parse: {e}: {rich:?}"));
        assert_eq!(
            parsed_text, text,
            "HTML escaping keeps every character: {rich:?}"
        );
        let mut want = entities_json(&entities);
        let mut got = parsed_entities;
        let key = |v: &Value| {
            (
                v["offset"].as_u64(),
                v["length"].as_u64(),
                v["type"].to_string(),
            )
        };
        want.sort_by_key(key);
        got.sort_by_key(key);
        // Empty wrappers make no entity in either rendering.
        assert_eq!(got, want, "{rich:?}");
        // And what comes back in reads the same.
        let back = from_telegram(&text, &entities);
        assert_eq!(back.to_plain(), text);
    }
}
