//! The pages' templates (minijinja), compiled into the binary from `templates/` so the console
//! needs no files at run time. Every `.html` template autoescapes what it prints: text from
//! residents, names, reasons are never markup.

use minijinja::Environment;
use serde::Serialize;

/// Why a page could not be rendered (a template bug: the tests render every page).
#[derive(Debug, thiserror::Error)]
#[error("the console template `{name}` failed: {source}")]
pub struct TemplateError {
    name: &'static str,
    source: minijinja::Error,
}

#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

/// Each template with its file's text.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("message.html", include_str!("templates/message.html")),
    ("login.html", include_str!("templates/login.html")),
    ("filters.html", include_str!("templates/filters.html")),
    ("queue.html", include_str!("templates/queue.html")),
    ("queue_rows.html", include_str!("templates/queue_rows.html")),
    ("item.html", include_str!("templates/item.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("published.html", include_str!("templates/published.html")),
    ("widget.html", include_str!("templates/widget.html")),
    ("links.html", include_str!("templates/links.html")),
    ("rules.html", include_str!("templates/rules.html")),
    ("rules_diff.html", include_str!("templates/rules_diff.html")),
    ("parked.html", include_str!("templates/parked.html")),
    ("reports.html", include_str!("templates/reports.html")),
    (
        "reports_rows.html",
        include_str!("templates/reports_rows.html"),
    ),
];

impl Templates {
    pub fn new() -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        // `.html` templates escape for HTML; this says so explicitly rather than by default.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|source| TemplateError { name, source })?;
        }
        Ok(Templates { env })
    }

    pub fn render(&self, name: &'static str, ctx: impl Serialize) -> Result<String, TemplateError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|source| TemplateError { name, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_select_marks_the_current_choice_of_plain_and_labelled_options() {
        let t = Templates::new().expect("templates compile");
        let src = r#"{% import "filters.html" as f %}{{ f.select("d", "D", opts, cur) }}"#;
        let html = |opts: minijinja::Value, cur: &str| {
            t.env
                .render_str(src, minijinja::context! { opts => opts, cur => cur })
                .unwrap()
        };
        let labelled = minijinja::Value::from_serialize(serde_json::json!([
            {"value": "a", "label": "Alpha"}, {"value": "b", "label": "Beta"}
        ]));
        let out = html(labelled, "b");
        assert!(
            out.contains(r#"<option value="b" selected>Beta</option>"#),
            "{out}"
        );
        assert!(out.contains(r#"<option value="a">Alpha</option>"#), "{out}");
        assert!(out.contains(r#"<option value="">Any</option>"#), "{out}");
        let plain = minijinja::Value::from_serialize(["x", "y"]);
        let out = html(plain, "x");
        assert!(
            out.contains(r#"<option value="x" selected>x</option>"#),
            "{out}"
        );
        assert!(out.contains(r#"<label for="f-d">D</label>"#), "{out}");
    }

    #[test]
    fn every_template_compiles_and_text_is_escaped() {
        let t = Templates::new().expect("templates compile");
        let html = t
            .render(
                "message.html",
                minijinja::context! {
                    title => "<script>x</script>",
                    heading => "Hi",
                    text => "a <b>\"c\"</b> & d",
                    person => (),
                    csrf => "",
                    notice => (),
                    nav => "",
                },
            )
            .expect("renders");
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }
}
