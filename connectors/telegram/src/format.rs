//! `RichText` ⇄ Telegram text with `MessageEntity`s, both directions.
//!
//! Outbound, the bot sends plain text plus an explicit entity list and never a `parse_mode`, so no
//! character a person typed can be read as markup: a resident's `<b>` or `*` is sent as those very
//! characters, and nothing needs escaping. Offsets and lengths are in UTF-16 code units, as the Bot
//! API counts them. `to_html` exists for the few places that need markup (it escapes `<`, `>`,
//! `&` and `"`).
//!
//! Inbound, entities become spans (spoilers stay spoilers, both ways); kinds `RichText` has no span
//! for (underline, strikethrough, hashtags, auto-detected URLs, custom emoji) keep their text and
//! lose the styling. Bounded whatever the update says: at most [`MAX_ENTITIES`] entities are
//! read, and entities nested deeper than `PARSE_DEPTH` keep their text only.
//!
//! Outbound, consecutive code blocks and quotes are kept apart by a line break (Telegram merges
//! adjacent entities of one kind), and a code block's language is sent only if it is a plain name.

use civicbridge_api::rich_text::{safe_code_lang, PARSE_DEPTH};
use civicbridge_api::{RemoteUserId, RichText, Span};
use std::ops::Range;
use teloxide::types::{MessageEntity, MessageEntityKind as K};

/// UTF-16 length, the unit of Telegram's limits and entity offsets.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The most entities read from one message (Telegram sends at most 100).
pub const MAX_ENTITIES: usize = 1000;

/// Text and entities as received → `RichText`.
pub fn from_telegram(text: &str, entities: &[MessageEntity]) -> RichText {
    let entities = &entities[..entities.len().min(MAX_ENTITIES)];
    // UTF-16 offset -> byte offset, for every char boundary.
    let mut map = Vec::with_capacity(text.len() + 1);
    for (b, c) in text.char_indices() {
        for _ in 0..c.len_utf16() {
            map.push(b);
        }
    }
    map.push(text.len());
    let byte = |u: usize| map.get(u).copied().unwrap_or(text.len());
    let mut spans: Vec<(Range<usize>, &K)> = entities
        .iter()
        .filter(|e| styled(&e.kind))
        .map(|e| (byte(e.offset)..byte(e.offset + e.length), &e.kind))
        .filter(|(r, _)| r.start < r.end)
        .collect();
    spans.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    RichText {
        spans: build(text, 0..text.len(), &spans, 0),
    }
    .bounded(PARSE_DEPTH)
}

fn styled(k: &K) -> bool {
    matches!(
        k,
        K::Bold
            | K::Italic
            | K::Code
            | K::Pre { .. }
            | K::TextLink { .. }
            | K::Mention
            | K::TextMention { .. }
            | K::Blockquote
            | K::ExpandableBlockquote
            | K::Spoiler
    )
}

/// Spans of `text[range]` under `depth` formatting spans; `entities` lie within `range`.
fn build(
    text: &str,
    range: Range<usize>,
    entities: &[(Range<usize>, &K)],
    depth: usize,
) -> Vec<Span> {
    if depth >= PARSE_DEPTH {
        // Too deep: the text stays, the formatting goes.
        return vec![Span::Text(text[range].to_owned())];
    }
    let mut out = Vec::new();
    let mut pos = range.start;
    let mut i = 0;
    while i < entities.len() {
        let (r, kind) = &entities[i];
        if r.start < pos {
            // Overlaps an entity already placed: keep the text, drop the style.
            i += 1;
            continue;
        }
        let end = r.end.min(range.end);
        let children_end = entities[i + 1..]
            .iter()
            .position(|(c, _)| c.start >= end)
            .map_or(entities.len(), |p| i + 1 + p);
        if pos < r.start {
            out.push(Span::Text(text[pos..r.start].to_owned()));
        }
        let inner = &text[r.start..end];
        let children = || {
            build(
                text,
                r.start..end,
                &entities[i + 1..children_end],
                depth + 1,
            )
        };
        out.push(match kind {
            K::Bold => Span::Bold(children()),
            K::Italic => Span::Italic(children()),
            K::Blockquote | K::ExpandableBlockquote => Span::Quote(children()),
            K::Spoiler => Span::Spoiler(children()),
            K::Code => Span::Code(inner.to_owned()),
            K::Pre { language } => Span::Pre {
                lang: safe_code_lang(language.as_deref()).map(str::to_owned),
                code: inner.to_owned(),
            },
            K::TextLink { url } => Span::Link {
                url: url.to_string(),
                children: children(),
            },
            K::TextMention { user } => Span::Mention {
                user: Some(RemoteUserId::new(user.id.0.to_string())),
                name: inner.to_owned(),
            },
            K::Mention => Span::Mention {
                user: None,
                name: inner.trim_start_matches('@').to_owned(),
            },
            _ => Span::Text(inner.to_owned()),
        });
        pos = end;
        i = children_end;
    }
    if pos < range.end {
        out.push(Span::Text(text[pos..range.end].to_owned()));
    }
    merge_text(out)
}

fn merge_text(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match (out.last_mut(), s) {
            (Some(Span::Text(a)), Span::Text(b)) => a.push_str(&b),
            (_, s) => out.push(s),
        }
    }
    out
}

/// `RichText` → plain text and the entities that style it.
///
/// Mentions become plain `@name` text: the user they name lives on another platform. Links other
/// than http, https and tg keep their text and show the URL after it (Telegram refuses other
/// schemes in text links). Nested quotes flatten into the outer one.
pub fn to_telegram(text: &RichText) -> (String, Vec<MessageEntity>) {
    let mut out = String::new();
    let mut entities = Vec::new();
    render(&text.spans, &mut out, &mut entities, false);
    // Outer entities first; among entities of one range, a fixed order by kind, so what the bot
    // sends does not depend on how the tree happened to nest them.
    entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length), kind_rank(&e.kind)));
    (out, entities)
}

/// Whether `span` starts (`edge` = first) or ends (`edge` = last) with a code block or a quote,
/// however formatting wraps it.
fn block_at(span: &Span, edge: fn(&[Span]) -> Option<&Span>) -> bool {
    match span {
        Span::Pre { .. } | Span::Quote(_) => true,
        Span::Bold(c) | Span::Italic(c) | Span::Spoiler(c) | Span::Link { children: c, .. } => {
            edge(c).is_some_and(|s| block_at(s, edge))
        }
        _ => false,
    }
}

fn kind_rank(k: &K) -> u8 {
    match k {
        K::Blockquote | K::ExpandableBlockquote => 0,
        K::Spoiler => 1,
        K::TextLink { .. } => 2,
        K::Bold => 3,
        K::Italic => 4,
        K::Pre { .. } => 5,
        K::Code => 6,
        _ => 7,
    }
}

fn render(spans: &[Span], out: &mut String, entities: &mut Vec<MessageEntity>, in_quote: bool) {
    let mut prev_block = false;
    for s in spans {
        if prev_block && block_at(s, <[Span]>::first) && !out.ends_with('\n') {
            // Telegram shows adjacent blocks of one kind as one: keep them apart.
            out.push('\n');
        }
        prev_block = block_at(s, <[Span]>::last);
        let start = utf16_len(out);
        let kind = match s {
            Span::Text(t) => {
                out.push_str(t);
                None
            }
            Span::Mention { name, .. } | Span::GroupMention { name } => {
                out.push('@');
                out.push_str(name);
                None
            }
            Span::Code(c) => {
                out.push_str(c);
                Some(K::Code)
            }
            Span::Pre { lang, code } => {
                out.push_str(code);
                Some(K::Pre {
                    language: safe_code_lang(lang.as_deref()).map(str::to_owned),
                })
            }
            Span::Spoiler(c) => {
                render(c, out, entities, in_quote);
                Some(K::Spoiler)
            }
            Span::Bold(c) => {
                render(c, out, entities, in_quote);
                Some(K::Bold)
            }
            Span::Italic(c) => {
                render(c, out, entities, in_quote);
                Some(K::Italic)
            }
            // Telegram does not nest blockquotes: an inner quote keeps only its text.
            Span::Quote(c) => {
                render(c, out, entities, true);
                (!in_quote).then_some(K::Blockquote)
            }
            Span::Link { url, children } => {
                render(children, out, entities, in_quote);
                match url.parse::<url::Url>() {
                    Ok(url) if matches!(url.scheme(), "http" | "https" | "tg") => {
                        Some(K::TextLink { url })
                    }
                    _ => {
                        out.push_str(&format!(" ({url})"));
                        None
                    }
                }
            }
        };
        let len = utf16_len(out) - start;
        if let Some(kind) = kind.filter(|_| len > 0) {
            entities.push(MessageEntity::new(kind, start, len));
        }
    }
}

/// `RichText` as Telegram HTML (`parse_mode=HTML`), escaping everything a person typed.
pub fn to_html(text: &RichText) -> String {
    let mut out = String::new();
    html(&text.spans, &mut out);
    out
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn html(spans: &[Span], out: &mut String) {
    for s in spans {
        match s {
            Span::Text(t) => escape(t, out),
            Span::Mention { name, .. } | Span::GroupMention { name } => {
                out.push('@');
                escape(name, out);
            }
            Span::Spoiler(c) => wrap("tg-spoiler", c, out),
            Span::Code(c) => {
                out.push_str("<code>");
                escape(c, out);
                out.push_str("</code>");
            }
            Span::Pre { lang, code } => match safe_code_lang(lang.as_deref()) {
                Some(l) => {
                    out.push_str("<pre><code class=\"language-");
                    escape(l, out);
                    out.push_str("\">");
                    escape(code, out);
                    out.push_str("</code></pre>");
                }
                _ => {
                    out.push_str("<pre>");
                    escape(code, out);
                    out.push_str("</pre>");
                }
            },
            Span::Bold(c) => wrap("b", c, out),
            Span::Italic(c) => wrap("i", c, out),
            Span::Quote(c) => wrap("blockquote", c, out),
            Span::Link { url, children } => {
                out.push_str("<a href=\"");
                escape(url, out);
                out.push_str("\">");
                html(children, out);
                out.push_str("</a>");
            }
        }
    }
}

fn wrap(tag: &str, children: &[Span], out: &mut String) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    html(children, out);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Splits `text` into parts that each fit `max` UTF-16 units once rendered, on word boundaries
/// where possible. The core has already cut to `max_text_len` characters; this only cuts further
/// when characters outside the Basic Multilingual Plane (emoji) count double.
pub fn split_to_fit(text: &RichText, max: usize) -> Vec<RichText> {
    if utf16_len(&text.to_plain()) <= max {
        return vec![text.clone()];
    }
    let mut limit = max;
    loop {
        let mut parts = text.split(limit);
        if parts.iter().all(|p| utf16_len(&p.to_plain()) <= max) || limit <= 1 {
            // A cut after a space leaves it dangling at the end of the part; Telegram would
            // strip it anyway.
            for p in &mut parts {
                trim_end(&mut p.spans);
            }
            return parts;
        }
        limit = limit * 9 / 10;
    }
}

fn trim_end(spans: &mut [Span]) {
    match spans.last_mut() {
        Some(Span::Text(t)) => {
            let kept = t.trim_end().len();
            t.truncate(kept);
        }
        Some(Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Spoiler(c)) => trim_end(c),
        Some(Span::Link { children, .. }) => trim_end(children),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use teloxide::types::{User, UserId};

    fn e(kind: K, offset: usize, length: usize) -> MessageEntity {
        MessageEntity::new(kind, offset, length)
    }

    #[test]
    fn inbound_entities_become_spans_with_utf16_offsets() {
        // "😀" is two UTF-16 units.
        let text = "😀 bold and italic code @ada";
        let ents = vec![
            e(K::Bold, 3, 15),
            e(K::Italic, 12, 6),
            e(K::Code, 19, 4),
            e(K::Mention, 24, 4),
        ];
        let rich = from_telegram(text, &ents);
        assert_eq!(
            rich.spans,
            vec![
                Span::Text("😀 ".into()),
                Span::Bold(vec![
                    Span::Text("bold and ".into()),
                    Span::Italic(vec![Span::Text("italic".into())]),
                ]),
                Span::Text(" ".into()),
                Span::Code("code".into()),
                Span::Text(" ".into()),
                Span::Mention {
                    user: None,
                    name: "ada".into()
                },
            ]
        );
        assert_eq!(rich.to_plain(), text);
    }

    #[test]
    fn inbound_text_mention_and_link() {
        let user = User {
            id: UserId(42),
            is_bot: false,
            first_name: "Ada".into(),
            last_name: None,
            username: None,
            language_code: None,
            is_premium: false,
            added_to_attachment_menu: false,
        };
        let text = "hi Ada see docs";
        let ents = vec![
            e(K::TextMention { user }, 3, 3),
            e(
                K::TextLink {
                    url: "https://x.org/".parse().expect("url"),
                },
                11,
                4,
            ),
            e(K::Underline, 0, 2),
        ];
        let rich = from_telegram(text, &ents);
        assert_eq!(rich.spans[0], Span::Text("hi ".into()));
        assert_eq!(
            rich.spans[1],
            Span::Mention {
                user: Some(RemoteUserId::new("42")),
                name: "Ada".into()
            }
        );
        assert!(matches!(&rich.spans[3], Span::Link { url, .. } if url == "https://x.org/"));
        // A mention reads `@name` in RichText, whether or not Telegram showed the `@`.
        assert_eq!(rich.to_plain(), "hi @Ada see docs");
    }

    #[test]
    fn outbound_is_plain_text_plus_entities() {
        let rich = RichText {
            spans: vec![
                Span::Bold(vec![Span::Text("Ada (Matrix):".into())]),
                Span::Text(" <b>x</b> *y* 😀 ".into()),
                Span::Link {
                    url: "https://e.org/".into(),
                    children: vec![Span::Text("e".into())],
                },
            ],
        };
        let (text, ents) = to_telegram(&rich);
        assert_eq!(text, "Ada (Matrix): <b>x</b> *y* 😀 e");
        assert_eq!(ents[0], e(K::Bold, 0, 13));
        // "😀" counts two: the link starts at UTF-16 offset 30.
        assert_eq!(
            ents[1],
            e(
                K::TextLink {
                    url: "https://e.org/".parse().expect("url")
                },
                30,
                1
            )
        );
    }

    /// Property-style: for many generated trees, rendering then parsing keeps the plain text
    /// exactly and keeps every bold/italic/code span.
    #[test]
    fn round_trip_preserves_text_and_styles() {
        let atoms = [
            "a", "<b>", "&amp;", "*", "_x_", "😀", "é", "\\", "`", " ", "\n", "[l](u)",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..500 {
            let mut spans = Vec::new();
            for _ in 0..(1 + next(5)) {
                let word: String = (0..1 + next(3)).map(|_| atoms[next(atoms.len())]).collect();
                spans.push(match next(4) {
                    0 => Span::Bold(vec![Span::Text(word)]),
                    1 => Span::Italic(vec![Span::Text(word)]),
                    2 => Span::Code(word),
                    _ => Span::Text(word),
                });
            }
            let rich = RichText { spans };
            let (text, ents) = to_telegram(&rich);
            assert_eq!(text, rich.to_plain());
            let back = from_telegram(&text, &ents);
            assert_eq!(back.to_plain(), rich.to_plain());
            let (text2, ents2) = to_telegram(&back);
            assert_eq!(
                (text2, ents2),
                (text, ents),
                "entities survive a round trip: {rich:?}"
            );
        }
    }

    #[test]
    fn odd_links_and_nested_quotes_degrade_readably() {
        let rich = RichText {
            spans: vec![
                Span::Link {
                    url: "javascript:alert(1)".into(),
                    children: vec![Span::Text("x".into())],
                },
                Span::Quote(vec![
                    Span::Text("a".into()),
                    Span::Quote(vec![Span::Text("b".into())]),
                ]),
            ],
        };
        let (text, ents) = to_telegram(&rich);
        assert_eq!(text, "x (javascript:alert(1))ab");
        assert_eq!(ents, vec![e(K::Blockquote, 23, 2)]);
    }

    #[test]
    fn html_escapes_what_people_typed() {
        let rich = RichText {
            spans: vec![
                Span::Bold(vec![Span::Text("A & B".into())]),
                Span::Text(" <i>not</i> \"q\"".into()),
            ],
        };
        assert_eq!(
            to_html(&rich),
            "<b>A &amp; B</b> &lt;i&gt;not&lt;/i&gt; &quot;q&quot;"
        );
    }

    #[test]
    fn split_to_fit_counts_utf16() {
        let rich = RichText::plain("😀 ".repeat(3000));
        assert!(rich.char_len() <= 6000);
        let parts = split_to_fit(&rich, 4096);
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| utf16_len(&p.to_plain()) <= 4096));
    }

    #[test]
    fn spoilers_stay_spoilers_and_code_blocks_stay_apart() {
        let text = "a secret x y";
        let rich = from_telegram(text, &[e(K::Spoiler, 2, 6)]);
        assert_eq!(
            rich.spans[1],
            Span::Spoiler(vec![Span::Text("secret".into())])
        );
        let (out, ents) = to_telegram(&rich);
        assert_eq!(out, text);
        assert_eq!(ents, vec![e(K::Spoiler, 2, 6)]);
        assert_eq!(to_html(&rich), "a <tg-spoiler>secret</tg-spoiler> x y");
        let two = RichText {
            spans: vec![
                Span::Pre {
                    lang: None,
                    code: "a".into(),
                },
                Span::Pre {
                    lang: None,
                    code: "b".into(),
                },
            ],
        };
        let (out, ents) = to_telegram(&two);
        assert_eq!(out, "a\nb");
        assert_eq!(
            ents,
            vec![
                e(K::Pre { language: None }, 0, 1),
                e(K::Pre { language: None }, 2, 1)
            ]
        );
    }

    #[test]
    fn a_code_language_is_a_name_or_nothing() {
        let lang = "x\n```\n# COUNCIL NOTICE\n[pay](https://evil.example)".to_owned();
        let rich = from_telegram(
            "code",
            &[e(
                K::Pre {
                    language: Some(lang),
                },
                0,
                4,
            )],
        );
        assert_eq!(
            rich.spans,
            vec![Span::Pre {
                lang: None,
                code: "code".into()
            }]
        );
        let rust = from_telegram(
            "code",
            &[e(
                K::Pre {
                    language: Some("rust".into()),
                },
                0,
                4,
            )],
        );
        assert_eq!(
            to_telegram(&rust).1,
            vec![e(
                K::Pre {
                    language: Some("rust".into())
                },
                0,
                4
            )]
        );
    }

    #[test]
    fn deeply_nested_entities_keep_their_text_only() {
        let text = "x".repeat(3000);
        let ents: Vec<MessageEntity> = (0..1500)
            .map(|i| {
                e(
                    if i % 2 == 0 { K::Bold } else { K::Italic },
                    i,
                    3000 - 2 * i,
                )
            })
            .collect();
        let rich = from_telegram(&text, &ents);
        assert!(rich.depth() <= PARSE_DEPTH);
        assert_eq!(rich.to_plain(), text);
    }
}

#[cfg(test)]
mod fuzz {
    //! Entities both ways under the workspace's proptest configuration (fixed seed in CI).
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

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
}
