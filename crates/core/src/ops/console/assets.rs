//! The console's static files, compiled in from `static/`. Served by name from a fixed table:
//! a path is never joined to a directory, so `..` or an encoded slash finds nothing (404).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("static/console.js"),
    ),
    (
        "widget.js",
        "text/javascript; charset=utf-8",
        include_str!("static/widget.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("static/console.css"),
    ),
];

/// The file `name`, if it is one of ours.
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, mime, body)| (*mime, *body))
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match find(&name) {
        Some((mime, body)) => (
            [
                (header::CONTENT_TYPE, mime),
                // Small, and changed only by an upgrade: revalidated each time.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_files_are_found() {
        assert!(find("console.js").is_some());
        assert!(find("console.css").is_some());
        assert!(find("widget.js").is_some());
        for bad in [
            "",
            "../mod.rs",
            "..%2Fmod.rs",
            "static/console.js",
            "/etc/passwd",
            "CONSOLE.JS",
        ] {
            assert!(find(bad).is_none(), "{bad}");
        }
    }
}
