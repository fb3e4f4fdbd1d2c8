//! Links in text: finding them (for the link filters), showing a deceptive link's real target,
//! and the code-block languages a renderer may write.
//!
//! URLs are found by `linkify`, with or without a scheme: `https://x.org`, `(https://x.org)`,
//! `evil.example/login`, `www.x.org`. E-mail addresses are not links.

use super::bounds::walk;
use super::{RichText, Span};
use linkify::{LinkFinder, LinkKind};
use std::ops::Range;

fn finder(must_have_scheme: bool) -> LinkFinder {
    let mut f = LinkFinder::new();
    f.kinds(&[LinkKind::Url]);
    f.url_must_have_scheme(must_have_scheme);
    f
}

/// Byte ranges of every URL in `text`, scheme or not.
pub fn find_urls(text: &str) -> Vec<Range<usize>> {
    finder(false)
        .links(text)
        .map(|l| l.start()..l.end())
        .collect()
}

/// The host of a URL or bare domain, lower case, without `www.`, user info or port.
fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        // An IPv6 literal keeps its colons.
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    let host = host.trim_end_matches('.').to_lowercase();
    host.strip_prefix("www.").map(str::to_owned).unwrap_or(host)
}

/// Whether a link labelled `label` would mislead about where it goes: the label shows a URL or
/// domain whose host is not the target's.
pub fn is_deceptive(label: &str, url: &str) -> bool {
    let target = host(url);
    let has_authority = url.contains("://");
    finder(false).links(label).any(|l| {
        let shown = host(l.as_str());
        !has_authority || shown != target
    })
}

/// Code-block languages a renderer may write after a fence or into a class name: 1–32 of
/// `A-Z a-z 0-9 _ + . # -`. Anything else is dropped, never escaped: a language is a hint.
pub fn safe_code_lang(lang: Option<&str>) -> Option<&str> {
    lang.map(str::trim).filter(|l| {
        (1..=32).contains(&l.len())
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '.' | '#' | '-'))
    })
}

impl RichText {
    /// Every link target in the text: link spans' URLs and URLs typed anywhere a reader sees
    /// text (plain text, inline code, code blocks, mentioned names, with or without a scheme,
    /// in brackets or not). Code and names count too: some clients link URLs inside code, and
    /// a mention crosses as the plain text `@name`, which the target platform may link.
    pub fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.spans, |s, _| {
            let typed = match s {
                Span::Link { url, .. } => return out.push(url.clone()),
                Span::Text(t) | Span::Code(t) | Span::Pre { code: t, .. } => t,
                Span::Mention { name, .. } | Span::GroupMention { name } => name,
                _ => return,
            };
            out.extend(find_urls(typed).into_iter().map(|r| typed[r].to_owned()));
        });
        out
    }

    /// Shows the real target of every deceptive link (see [`is_deceptive`]): its label stays as
    /// plain text, followed by the target in brackets, and only the target is a link. Decided
    /// here, once, so every connector shows the same thing. Also drops code-block languages no
    /// renderer may write.
    pub fn reveal_deceptive_links(&mut self) {
        fn fix(spans: &mut Vec<Span>) {
            let mut i = 0;
            while i < spans.len() {
                match &mut spans[i] {
                    Span::Link { url, children } => {
                        let label = RichText {
                            spans: children.clone(),
                        }
                        .to_plain();
                        if is_deceptive(&label, url) {
                            let url = url.clone();
                            let mut label = std::mem::take(children);
                            fix(&mut label);
                            let n = label.len();
                            let revealed = label.into_iter().chain([
                                Span::Text(" (".into()),
                                Span::Link {
                                    url: url.clone(),
                                    children: vec![Span::Text(url)],
                                },
                                Span::Text(")".into()),
                            ]);
                            spans.splice(i..=i, revealed);
                            i += n + 3;
                            continue;
                        }
                        fix(children);
                    }
                    Span::Pre { lang, .. } if safe_code_lang(lang.as_deref()).is_none() => {
                        *lang = None;
                    }
                    Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Spoiler(c) => fix(c),
                    _ => {}
                }
                i += 1;
            }
        }
        fix(&mut self.spans);
        self.spans = super::normalize(std::mem::take(&mut self.spans));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(url: &str, label: &str) -> RichText {
        RichText {
            spans: vec![Span::Link {
                url: url.into(),
                children: vec![Span::Text(label.into())],
            }],
        }
    }

    #[test]
    fn finds_wrapped_and_bare_urls_but_not_mail_addresses() {
        let t = RichText::plain(
            "see (https://x.org/a) and evil.example/login, www.y.org. mail bob@heredia.org",
        );
        assert_eq!(
            t.links(),
            vec!["https://x.org/a", "evil.example/login", "www.y.org"]
        );
        // Where a reader still sees a URL: code, and a mentioned name that crosses as `@name`.
        let t = RichText {
            spans: vec![
                Span::Code("curl evil.example/a".into()),
                Span::Pre {
                    lang: None,
                    code: "https://evil.example/b".into(),
                },
                Span::Mention {
                    user: None,
                    name: "evil.example/login".into(),
                },
            ],
        };
        assert_eq!(
            t.links(),
            vec![
                "evil.example/a",
                "https://evil.example/b",
                "evil.example/login"
            ]
        );
    }

    #[test]
    fn a_label_showing_another_address_reveals_the_target() {
        let mut t = link("https://evil.example/pay", "https://council.gov.uk/pay");
        t.reveal_deceptive_links();
        assert_eq!(
            t.to_plain(),
            "https://council.gov.uk/pay (https://evil.example/pay)"
        );
        assert!(matches!(&t.spans[0], Span::Text(_)), "the label is no link");
        for honest in [
            link(
                "https://council.gov.uk/pay?x=1",
                "https://council.gov.uk/pay",
            ),
            link("https://www.council.gov.uk/", "council.gov.uk"),
            link("https://evil.example/pay", "pay here"),
        ] {
            let mut t = honest.clone();
            t.reveal_deceptive_links();
            assert_eq!(t, honest);
        }
        let mut t = link("https://evil.example/", "pay at Council.gov.uk now");
        t.reveal_deceptive_links();
        assert!(t.to_plain().ends_with("(https://evil.example/)"));
    }

    #[test]
    fn only_plain_code_languages_survive() {
        assert_eq!(safe_code_lang(Some("rust")), Some("rust"));
        assert_eq!(safe_code_lang(Some("c++")), Some("c++"));
        assert_eq!(safe_code_lang(Some("x```")), None);
        assert_eq!(safe_code_lang(Some("x\n# heading")), None);
        assert_eq!(safe_code_lang(Some(&"a".repeat(33))), None);
        assert_eq!(safe_code_lang(Some("")), None);
    }
}
