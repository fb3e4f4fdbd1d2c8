//! Examples of both directions, HTML and splitting: offsets in UTF-16, round trips, what
//! degrades and how.

use super::{from_telegram, split_to_fit, to_html, to_telegram, utf16_len};
use civicbridge_api::rich_text::PARSE_DEPTH;
use civicbridge_api::{RemoteUserId, RichText, Span};
use teloxide::types::{MessageEntity, MessageEntityKind as K, User, UserId};

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
