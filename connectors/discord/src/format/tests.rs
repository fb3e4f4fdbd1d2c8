//! Examples of both directions: what is escaped, what is read, and the counterexamples the
//! property tests found, kept as plain tests.

use super::{parse, render};
use civicbridge_api::rich_text::PARSE_DEPTH;
use civicbridge_api::{RemoteUserId, RichText, Span};

fn none(_: u64) -> Option<String> {
    None
}

#[test]
fn escapes_markup_mentions_and_pings() {
    assert_eq!(
        render(&RichText::plain(
            "**x** @everyone <@123> _y_ ~~z~~ ||s|| `c` [l](http://a.b)"
        )),
        r"\*\*x\*\* \@everyone \<\@123> \_y\_ \~\~z\~\~ \|\|s\|\| \`c\` \[l](<http://a.b>)"
    );
    assert_eq!(
        render(&RichText::plain("> q\n# h\n- l")),
        "\\> q\n\\# h\n\\- l"
    );
}

/// The counterexample of `formatted_trees_keep_their_words` (issue 13): an italic span
/// followed only by white space inside a bold one rendered as `***x*\n**`, whose closing
/// `*` merged with the bold's `**`, so the words came out with stars in them.
#[test]
fn italic_before_trailing_white_space_in_bold_keeps_its_words() {
    let t = RichText {
        spans: vec![
            Span::Bold(vec![
                Span::Italic(vec![Span::Code("A".into())]),
                Span::Text("\n".into()),
            ]),
            Span::Text("a".into()),
        ],
    };
    let md = render(&t);
    assert_eq!(md, "**_`A`_**\na");
    let shown = civicbridge_testkit::discord::markdown::shown_text(&md, &none);
    assert_eq!(shown, "A\na");
    assert_eq!(parse(&md, &none).to_plain(), "A\na");
}

/// The counterexample of `fuzz_discord_formatted_trees_keep_their_words` (`cc 50bf7806`): the
/// escaped `\*` of a bold span's text next to its italic's `*` looked like a `**` inside,
/// so the bold marks were dropped; the italic `_A_` at the end of it, written to close
/// before the bold's `**`, then touched the next italic's `_` and read as `__`.
#[test]
fn an_escaped_star_beside_an_italic_star_keeps_the_bold() {
    let t = RichText {
        spans: vec![
            Span::Bold(vec![
                Span::Text("*".into()),
                Span::Italic(vec![Span::Code("A".into())]),
            ]),
            Span::Bold(vec![
                Span::Text("A".into()),
                Span::Italic(vec![Span::Text("A".into())]),
            ]),
            Span::Italic(vec![Span::Bold(vec![Span::Text("a".into())])]),
        ],
    };
    let md = render(&t);
    assert_eq!(md, "**\\**`A`*A_A_**_**a**_");
    let shown = civicbridge_testkit::discord::markdown::shown_text(&md, &none);
    assert_eq!(shown, "*AAAa");
    assert_eq!(parse(&md, &none), {
        let mut t = t.clone();
        // The two bold spans, adjacent, are one.
        if let [Span::Bold(a), Span::Bold(b), _] = &mut t.spans[..] {
            a.append(b);
        }
        t.spans.remove(1);
        t
    });
}

/// A bold span that cannot be marked (a URL inside has a `**` the reader would close it at)
/// is written as its children alone, and they are written knowing what follows the span:
/// its last italic must not end in a `_` touching the next italic's `_`.
#[test]
fn an_unmarked_bold_span_ends_in_marks_that_fit_what_follows() {
    let t = RichText {
        spans: vec![
            Span::Bold(vec![
                Span::Text("https://x.org/**a ".into()),
                Span::Italic(vec![Span::Text("b".into())]),
            ]),
            Span::Italic(vec![Span::Bold(vec![Span::Text("c".into())])]),
        ],
    };
    let md = render(&t);
    assert_eq!(md, "<https://x.org/**a> *b*_**c**_");
    let shown = civicbridge_testkit::discord::markdown::shown_text(&md, &none);
    assert_eq!(shown, "https://x.org/**a bc");
    assert_eq!(parse(&md, &none).to_plain(), "https://x.org/**a bc");
}

/// The counterexample of `fuzz_discord_parse_any_markdown` (`cc 49755d2e`): a URL with
/// "```" in it, written as `<…>`, counted as a fence when the lines were sorted into code
/// and quotes, so the real code block's opening fence on the next line was taken for a
/// closing one and its `>>> ` line for a block quote.
#[test]
fn a_fence_inside_a_url_opens_no_code_block() {
    let typed = "||https://x.org/(a)```<@123>```>>> ```";
    let t = parse(typed, &none);
    let url = "https://x.org/(a)```";
    assert_eq!(
        t.spans,
        vec![
            Span::Text(format!("||{url}")),
            Span::Mention {
                user: Some(RemoteUserId::new("123")),
                name: "123".into()
            },
            Span::Pre {
                lang: None,
                code: ">>> ".into()
            },
        ]
    );
    let md = render(&t);
    assert_eq!(md, format!("\\|\\|<{url}>\\@123\n```\n>>> \n```"));
    let link = |children: &str| Span::Link {
        url: url.into(),
        children: vec![Span::Text(children.into())],
    };
    let back = parse(&md, &none);
    assert_eq!(
        back.spans,
        vec![
            Span::Text("||".into()),
            link(url),
            Span::Text("@123\n".into()),
            Span::Pre {
                lang: None,
                code: ">>> ".into()
            },
        ]
    );
    assert_eq!(render(&back), md);
    // Nor in a link's target, behind a backslash or in inline code.
    for line in [
        "[x](https://x.org/a```)".to_owned(),
        "\\``` and `` a`b ``".to_owned(),
        "`x```".to_owned(),
    ] {
        let t = parse(&format!("{line}\n> q"), &none);
        assert!(
            matches!(t.spans.last(), Some(Span::Quote(_))),
            "{line}: {t:?}"
        );
    }
}

/// A code block inside a quote is read with the quote: the fences on its `> ` lines leave
/// no block open after it, so a later quote is still a quote.
#[test]
fn a_code_block_in_a_quote_leaves_no_fence_open_after_it() {
    let t = RichText {
        spans: vec![
            Span::Quote(vec![Span::Pre {
                lang: None,
                code: "a".into(),
            }]),
            Span::Text("b\n".into()),
            Span::Quote(vec![Span::Text("c".into())]),
        ],
    };
    let md = render(&t);
    assert_eq!(md, "> ```\n> a\n> ```\nb\n> c\n");
    assert_eq!(parse(&md, &none), t);
}

#[test]
fn a_link_ends_where_a_client_ends_it() {
    assert_eq!(
        render(&RichText::plain(
            "(see https://x.org/a). Or https://x.org/Foo_(bar), ok"
        )),
        r"(see <https://x.org/a>). Or <https://x.org/Foo_(bar)>, ok"
    );
}

#[test]
fn code_blocks_cannot_be_closed_from_inside() {
    let attack = RichText {
        spans: vec![Span::Pre {
            lang: Some("x\n```\n# COUNCIL NOTICE\n[pay](https://evil.example)".into()),
            code: "let x;".into(),
        }],
    };
    assert_eq!(render(&attack), "```\nlet x;\n```");
    let fence_inside = RichText {
        spans: vec![Span::Pre {
            lang: Some("rust".into()),
            code: "a\n```\n# h".into(),
        }],
    };
    assert_eq!(render(&fence_inside), "a\n\\`\\`\\`\n\\# h");
}

#[test]
fn spoilers_and_role_mentions_both_ways() {
    let t = parse("a ||secret|| <@&77>", &none);
    assert_eq!(
        t.spans,
        vec![
            Span::Text("a ".into()),
            Span::Spoiler(vec![Span::Text("secret".into())]),
            Span::Text(" ".into()),
            Span::GroupMention {
                name: "role".into()
            },
        ]
    );
    assert!(t.has_mass_mention());
    assert_eq!(render(&t), r"a ||secret|| \@role");
}

#[test]
fn nesting_past_the_parse_limit_is_read_as_text() {
    let deep = format!("{}x{}", "||".repeat(40), "||".repeat(40));
    let t = parse(&deep, &none);
    assert!(t.depth() <= PARSE_DEPTH, "{}", t.depth());
    assert!(t.to_plain().contains('x'));
}

#[test]
fn urls_are_left_alone() {
    assert_eq!(
        render(&RichText::plain("see https://x.org/a_b*c then _")),
        r"see <https://x.org/a_b*c> then \_"
    );
}

#[test]
fn renders_formatting() {
    let t = RichText {
        spans: vec![
            Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
            Span::Text(" a ".into()),
            Span::Italic(vec![Span::Text("b ".into())]),
            Span::Code("c < d".into()),
            Span::Text(" ".into()),
            Span::Link {
                url: "https://example.org/".into(),
                children: vec![Span::Text("e".into())],
            },
            Span::Mention {
                user: Some(RemoteUserId::new("42")),
                name: "bob".into(),
            },
        ],
    };
    assert_eq!(
        render(&t),
        r"**Ada (Telegram):** a *b* `c < d` [e](https://example.org/)\@bob"
    );
}

#[test]
fn parses_discord_markdown() {
    let names = |id: u64| (id == 42).then(|| "Ada".to_owned());
    let t = parse(
        "**b** *i* _j_ __u__ `c` [l](https://x.y) <@42> <@!7> \\*lit\\* https://q.r/a_b_",
        &names,
    );
    assert_eq!(
        t.spans,
        vec![
            Span::Bold(vec![Span::Text("b".into())]),
            Span::Text(" ".into()),
            Span::Italic(vec![Span::Text("i".into())]),
            Span::Text(" ".into()),
            Span::Italic(vec![Span::Text("j".into())]),
            Span::Text(" u ".into()),
            Span::Code("c".into()),
            Span::Text(" ".into()),
            Span::Link {
                url: "https://x.y".into(),
                children: vec![Span::Text("l".into())]
            },
            Span::Text(" ".into()),
            Span::Mention {
                user: Some(RemoteUserId::new("42")),
                name: "Ada".into()
            },
            Span::Text(" ".into()),
            Span::Mention {
                user: Some(RemoteUserId::new("7")),
                name: "7".into()
            },
            Span::Text(" *lit* https://q.r/a_b_".into()),
        ]
    );
    let q = parse("> quoted\n> more\nafter\n```rs\nfn x() {}\n```", &none);
    assert_eq!(
        q.spans,
        vec![
            Span::Quote(vec![Span::Text("quoted\nmore".into())]),
            Span::Text("after\n".into()),
            Span::Pre {
                lang: Some("rs".into()),
                code: "fn x() {}".into()
            },
        ]
    );
}
