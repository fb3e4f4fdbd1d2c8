//! Cutting a `RichText` further so each part fits Telegram's limit in UTF-16 units.

use super::utf16_len;
use civicbridge_api::{RichText, Span};

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
