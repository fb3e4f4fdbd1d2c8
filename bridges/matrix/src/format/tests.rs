use super::*;
use civicbridge_api::{RemoteUserId, Span};

fn t(s: &str) -> Span {
    Span::Text(s.into())
}

#[test]
fn typed_markup_is_escaped_and_reads_back_verbatim() {
    let text = RichText::plain(r#"<b>x</b> & "q" 'a' **y** <script>"#);
    let html = render_html(&text);
    assert_eq!(
        html,
        "&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; &#39;a&#39; **y** &lt;script&gt;"
    );
    assert_eq!(from_matrix(&render_plain(&text), Some(&html)), text);
}

#[test]
fn formatting_renders_to_the_tags_matrix_clients_show() {
    let text = RichText {
        spans: vec![
            Span::Bold(vec![t("Ada (Telegram):")]),
            t(" a\nb "),
            Span::Italic(vec![t("i")]),
            Span::Code("c < d".into()),
            Span::Pre {
                lang: Some("rust".into()),
                code: "fn x() {}\n".into(),
            },
            Span::Link {
                url: "https://e.org/?a=1&b=2".into(),
                children: vec![t("e")],
            },
            Span::Quote(vec![t("q")]),
        ],
    };
    assert_eq!(
        render_html(&text),
        "<strong>Ada (Telegram):</strong> a<br>b <em>i</em><code>c &lt; d</code>\
         <pre><code class=\"language-rust\">fn x() {}\n</code></pre>\
         <a href=\"https://e.org/?a=1&amp;b=2\">e</a><blockquote>q</blockquote>"
    );
    assert_eq!(render_plain(&text), text.to_plain());
}

#[test]
fn unsafe_links_and_foreign_mentions_degrade_to_text() {
    let text = RichText {
        spans: vec![
            Span::Link {
                url: "javascript:alert(1)".into(),
                children: vec![t("click")],
            },
            t(" "),
            Span::Mention {
                user: Some(RemoteUserId::new("12345")),
                name: "ada".into(),
            },
            t(" "),
            Span::Mention {
                user: Some(RemoteUserId::new("@bob:example.org")),
                name: "Bob".into(),
            },
        ],
    };
    assert_eq!(
        render_html(&text),
        "click @ada <a href=\"https://matrix.to/#/@bob:example.org\">@Bob</a>"
    );
}

#[test]
fn inbound_html_is_sanitised_to_known_tags() {
    let html = "<mx-reply><blockquote>old</blockquote></mx-reply>\
        <p>Hi <strong>all</strong> <span data-mx-color=\"red\">red</span> \
        <script>alert(1)</script><a href=\"javascript:x\">js</a> \
        <a href=\"https://matrix.to/#/%40ada%3Alocalhost\">Ada</a> <u>u</u> &lt;b&gt; &#x1F600;</p>";
    let rt = from_matrix("ignored", Some(html));
    assert_eq!(
        rt.spans,
        vec![
            t("Hi "),
            Span::Bold(vec![t("all")]),
            t(" red js "),
            Span::Mention {
                user: Some(RemoteUserId::new("@ada:localhost")),
                name: "Ada".into()
            },
            t(" u <b> \u{1F600}"),
        ]
    );
}

#[test]
fn broken_html_never_fails() {
    for html in [
        "<b>unclosed",
        "</i>stray close",
        "a < b and c > d",
        "<a href='x",
        "<!-- comment",
        "&unknown; &#xZZ; &",
        "<pre><code class=\"language-py\">x</code></pre>",
    ] {
        let rt = from_matrix("", Some(html));
        assert!(
            !rt.to_plain().is_empty() || html.starts_with("<!--"),
            "{html}"
        );
    }
    assert_eq!(from_matrix("", Some("a < b")).to_plain(), "a < b");
    assert_eq!(
        from_matrix("", Some("&unknown; &")).to_plain(),
        "&unknown; &"
    );
}

#[test]
fn reply_fallback_is_stripped_from_plain_bodies() {
    assert_eq!(
        strip_reply_fallback("> <@a:x> old\n> more\n\nnew text"),
        "new text"
    );
    assert_eq!(strip_reply_fallback("plain"), "plain");
}

/// A small deterministic generator (xorshift), so the property tests need no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn text(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'b', ' ', '<', '>', '&', '"', '\'', '*', '_', '`', '\n', 'é', '😀', ';', '#',
        ];
        (0..1 + self.below(8))
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }
    fn spans(&mut self, depth: u32) -> Vec<Span> {
        (0..1 + self.below(4)).map(|_| self.span(depth)).collect()
    }
    fn span(&mut self, depth: u32) -> Span {
        let choice = if depth == 0 { 0 } else { self.below(7) };
        match choice {
            1 => Span::Bold(self.spans(depth - 1)),
            2 => Span::Italic(self.spans(depth - 1)),
            3 => Span::Code(self.text().replace('\n', " ")),
            4 => Span::Pre {
                lang: None,
                code: self.text(),
            },
            5 => Span::Link {
                url: format!("https://example.org/{}", self.below(100)),
                children: self.spans(depth - 1),
            },
            6 => Span::Quote(self.spans(depth - 1)),
            _ => Span::Text(self.text()),
        }
    }
}

#[test]
fn property_render_then_parse_is_the_identity_on_normalised_text() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..2000 {
        let text = RichText {
            spans: normalize(rng.spans(3)),
        };
        let html = render_html(&text);
        let back = from_matrix(&render_plain(&text), Some(&html));
        assert_eq!(back, text, "case {case}: html {html:?}");
        assert_eq!(render_plain(&text), text.to_plain());
    }
}

#[test]
fn property_rendered_html_has_no_unescaped_typed_markup() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let typed = rng.text();
        let html = render_html(&RichText::plain(typed.clone()));
        assert!(!html.contains('<') || html.replace("<br>", "").find('<').is_none());
        assert!(!html.contains('"') && !html.contains('\''));
        assert_eq!(from_matrix(&typed, Some(&html)).to_plain(), typed);
    }
}
