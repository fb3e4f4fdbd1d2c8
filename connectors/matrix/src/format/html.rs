//! A small, tolerant HTML reader for Matrix `formatted_body`: tags the model knows become
//! formatting, every other tag is dropped and its text kept. It never fails: unbalanced tags
//! are closed, a stray `<` is text, unknown entities stay as written.
//!
//! Bounded by construction, whatever the input: the tokenizer is a loop; the element tree is
//! built with an explicit stack and never deeper than [`MAX_ELEMENT_DEPTH`] (an element opened
//! deeper is transparent: its children join the nearest kept ancestor, its close tag still
//! matches); at most [`MAX_OPEN`] elements are open at once (further open tags are ignored), so
//! matching a close tag costs at most that much; and formatting nested deeper than
//! `PARSE_DEPTH` is flattened into its ancestor. The recursive conversion and the drop of the
//! tree therefore never go deeper than [`MAX_ELEMENT_DEPTH`], however deep the input nests.

use civicbridge_api::rich_text::{safe_code_lang, PARSE_DEPTH};
use civicbridge_api::{RemoteUserId, Span};

/// The deepest element tree the reader builds.
pub const MAX_ELEMENT_DEPTH: usize = 32;

/// The most elements open at once, kept or transparent.
pub const MAX_OPEN: usize = 512;

#[derive(Debug)]
enum Node {
    Text(String),
    Element {
        name: String,
        attrs: Vec<(String, String)>,
        children: Vec<Node>,
    },
}

/// An element still open while reading: its name, attributes and children so far, and whether
/// it is kept (false: too deep, its children go to the nearest kept ancestor).
struct Open {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    kept: bool,
}

const VOID: &[&str] = &["br", "hr", "img", "input", "meta", "link", "wbr", "col"];
const DROPPED: &[&str] = &["mx-reply", "script", "style", "head", "title", "template"];
const BLOCK: &[&str] = &[
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "tr", "table", "details",
];

/// Parses `formatted_body` into spans (not yet normalised).
pub fn parse_html(html: &str) -> Vec<Span> {
    let nodes = build_tree(html);
    let mut out = Vec::new();
    convert_all(&nodes, &mut out, 0);
    out
}

fn build_tree(html: &str) -> Vec<Node> {
    // Stack of open elements; index 0 is the document root.
    let mut stack: Vec<Open> = vec![Open {
        name: String::new(),
        attrs: Vec::new(),
        children: Vec::new(),
        kept: true,
    }];
    // How many of the open elements are kept (the root included).
    let mut kept = 1usize;
    let mut rest = html;
    let mut text = String::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            flush_text(&mut text, &mut stack);
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        if rest.starts_with('<') {
            if let Some((tag, after)) = read_tag(rest) {
                flush_text(&mut text, &mut stack);
                rest = after;
                match tag {
                    Tag::Close(name) => close(&name, &mut stack, &mut kept),
                    Tag::Open(name, attrs, self_closing) => {
                        if self_closing || VOID.contains(&name.as_str()) {
                            push_node(
                                &mut stack,
                                Node::Element {
                                    name,
                                    attrs,
                                    children: Vec::new(),
                                },
                            );
                        } else if stack.len() < MAX_OPEN {
                            let keep = kept <= MAX_ELEMENT_DEPTH;
                            kept += usize::from(keep);
                            stack.push(Open {
                                name,
                                attrs,
                                children: Vec::new(),
                                kept: keep,
                            });
                        }
                    }
                }
                continue;
            }
        }
        // The next `<` after the first character (which may be a stray `<` or multi-byte).
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let next = rest[first..].find('<').map_or(rest.len(), |i| i + first);
        text.push_str(&decode_entities(&rest[..next]));
        rest = &rest[next..];
    }
    flush_text(&mut text, &mut stack);
    while stack.len() > 1 {
        pop(&mut stack, &mut kept);
    }
    stack.pop().map(|o| o.children).unwrap_or_default()
}

fn flush_text(text: &mut String, stack: &mut [Open]) {
    if !text.is_empty() {
        let t = std::mem::take(text);
        push_node(stack, Node::Text(t));
    }
}

/// Appends `node` to the innermost kept element.
fn push_node(stack: &mut [Open], node: Node) {
    if let Some(top) = stack.iter_mut().rev().find(|o| o.kept) {
        top.children.push(node);
    }
}

fn pop(stack: &mut Vec<Open>, kept: &mut usize) {
    if stack.len() <= 1 {
        return;
    }
    if let Some(open) = stack.pop() {
        if open.kept {
            *kept -= 1;
            push_node(
                stack,
                Node::Element {
                    name: open.name,
                    attrs: open.attrs,
                    children: open.children,
                },
            );
        }
    }
}

fn close(name: &str, stack: &mut Vec<Open>, kept: &mut usize) {
    // A close tag without a matching open one is ignored.
    if let Some(pos) = stack.iter().rposition(|o| o.name == name) {
        if pos == 0 {
            return;
        }
        while stack.len() > pos {
            pop(stack, kept);
        }
    }
}

enum Tag {
    Open(String, Vec<(String, String)>, bool),
    Close(String),
}

/// Reads one tag at the start of `s` (which starts with `<`); `None` when it is not a tag.
fn read_tag(s: &str) -> Option<(Tag, &str)> {
    let body = &s[1..];
    let (closing, body) = match body.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(body.len());
    if name_len == 0 || !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name = body[..name_len].to_ascii_lowercase();
    let mut rest = &body[name_len..];
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("/>") {
            let tag = if closing {
                Tag::Close(name)
            } else {
                Tag::Open(name, attrs, true)
            };
            return Some((tag, after));
        }
        if let Some(after) = rest.strip_prefix('>') {
            let tag = if closing {
                Tag::Close(name)
            } else {
                Tag::Open(name, attrs, false)
            };
            return Some((tag, after));
        }
        if rest.is_empty() {
            return None;
        }
        let key_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len());
        if key_len == 0 {
            // A stray `/` or `=`: skip it.
            rest = &rest[1..];
            continue;
        }
        let key = rest[..key_len].to_ascii_lowercase();
        rest = rest[key_len..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let inner = &after[1..];
                let end = inner.find(q)?;
                value = decode_entities(&inner[..end]);
                rest = &inner[end + 1..];
            } else {
                let end = after
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(after.len());
                value = decode_entities(&after[..end]);
                rest = &after[end..];
            }
        }
        attrs.push((key, value));
    }
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#39;`, `&nbsp;` and numeric entities.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| decode_entity(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Converts `nodes` inside `depth` formatting spans.
fn convert_all(nodes: &[Node], out: &mut Vec<Span>, depth: usize) {
    for n in nodes {
        convert(n, out, depth);
    }
}

fn children_spans(children: &[Node], depth: usize) -> Vec<Span> {
    let mut v = Vec::new();
    convert_all(children, &mut v, depth + 1);
    v
}

fn plain_of(nodes: &[Node]) -> String {
    let mut s = String::new();
    for n in nodes {
        match n {
            Node::Text(t) => s.push_str(t),
            Node::Element { name, children, .. } => {
                if name == "br" {
                    s.push('\n');
                } else if !DROPPED.contains(&name.as_str()) {
                    s.push_str(&plain_of(children));
                }
            }
        }
    }
    s
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn ends_with_newline(out: &[Span]) -> bool {
    match out.last() {
        None => true,
        Some(Span::Text(t)) => t.ends_with('\n') || t.is_empty(),
        Some(Span::Pre { .. } | Span::Quote(_)) => true,
        Some(_) => false,
    }
}

fn convert(node: &Node, out: &mut Vec<Span>, depth: usize) {
    let (name, attrs, children) = match node {
        Node::Text(t) => {
            out.push(Span::Text(t.clone()));
            return;
        }
        Node::Element {
            name,
            attrs,
            children,
        } => (name.as_str(), attrs.as_slice(), children.as_slice()),
    };
    let formatting =
        matches!(name, "b" | "strong" | "i" | "em" | "blockquote" | "a") || is_spoiler(name, attrs);
    if formatting && depth >= PARSE_DEPTH {
        // Too deep: the text stays, the formatting goes.
        convert_all(children, out, depth);
        return;
    }
    match name {
        "b" | "strong" => out.push(Span::Bold(children_spans(children, depth))),
        "i" | "em" => out.push(Span::Italic(children_spans(children, depth))),
        "blockquote" => out.push(Span::Quote(children_spans(children, depth))),
        _ if is_spoiler(name, attrs) => out.push(Span::Spoiler(children_spans(children, depth))),
        "code" => out.push(Span::Code(plain_of(children))),
        "pre" => {
            let lang = children.iter().find_map(|c| match c {
                Node::Element { name, attrs, .. } if name == "code" => attr(attrs, "class")
                    .and_then(|cl| {
                        cl.split_whitespace()
                            .find_map(|w| w.strip_prefix("language-"))
                    })
                    .and_then(|l| safe_code_lang(Some(l)))
                    .map(str::to_owned),
                _ => None,
            });
            out.push(Span::Pre {
                lang,
                code: plain_of(children),
            });
        }
        "a" => {
            let href = attr(attrs, "href").unwrap_or_default();
            if let Some(user) = matrix_to_user(href) {
                let name = plain_of(children);
                out.push(Span::Mention {
                    user: Some(RemoteUserId::new(user)),
                    name: name.trim_start_matches('@').to_owned(),
                });
            } else if ["https://", "http://", "mailto:"]
                .iter()
                .any(|p| href.to_ascii_lowercase().starts_with(p))
            {
                out.push(Span::Link {
                    url: href.to_owned(),
                    children: children_spans(children, depth),
                });
            } else {
                convert_all(children, out, depth);
            }
        }
        "br" => out.push(Span::Text("\n".into())),
        "hr" => out.push(Span::Text("\n".into())),
        n if DROPPED.contains(&n) => {}
        n if BLOCK.contains(&n) => {
            if !ends_with_newline(out) {
                out.push(Span::Text("\n".into()));
            }
            if n == "li" {
                out.push(Span::Text("- ".into()));
            }
            convert_all(children, out, depth);
        }
        _ => convert_all(children, out, depth),
    }
}

/// `<span data-mx-spoiler>` (with or without a reason).
fn is_spoiler(name: &str, attrs: &[(String, String)]) -> bool {
    name == "span" && attr(attrs, "data-mx-spoiler").is_some()
}

/// The user id in a `https://matrix.to/#/@user:server` link, percent-decoded.
fn matrix_to_user(href: &str) -> Option<String> {
    let rest = href.strip_prefix("https://matrix.to/#/")?;
    let decoded = percent_decode(rest.split('?').next().unwrap_or(rest));
    (decoded.starts_with('@') && decoded.contains(':')).then_some(decoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
