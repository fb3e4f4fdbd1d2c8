//! Where things end, as Discord's reader sees it: a bare URL, a closing delimiter. Both
//! directions ask: rendering to know what a reader would do with its output, parsing to read.

/// The length of the bare URL at the start of `s`, if one starts there. Like Discord's
/// autolinker: from `http://` or `https://` to the next white space, `<` or `>` (and `\`, which
/// our escaping uses), without a trailing `.`, `,`, `:`, `;`, `"`, `'`, `)` or `]`; except that
/// a `)` closing a `(` inside the URL stays (`…/wiki/Foo_(bar)`).
pub(super) fn url_len(s: &str) -> Option<usize> {
    let scheme = ["https://", "http://"]
        .iter()
        .find(|p| s.starts_with(**p))?
        .len();
    let run = s
        .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '\\')
        .unwrap_or(s.len());
    let mut end = run;
    while end > scheme && s[..end].ends_with(['.', ',', ':', ';', '"', '\'', ')', ']']) {
        end -= 1;
    }
    while end < run
        && s[end..].starts_with(')')
        && s[..end].matches('(').count() > s[..end].matches(')').count()
    {
        end += 1;
    }
    (end > scheme).then_some(end)
}

/// Where `delim` closes in `s` (byte index), skipping escapes and, for single `*`/`_`, doubled
/// delimiters.
pub(super) fn find_close(s: &str, delim: &str, single: Option<char>) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(escaped) = rest.strip_prefix('\\') {
            i += 1 + escaped.chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if rest.starts_with(delim) {
            match single {
                Some(c) if rest[1..].starts_with(c) => {
                    i += 2;
                    continue;
                }
                _ => return Some(i),
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    None
}
