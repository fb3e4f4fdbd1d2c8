//! What every handler checks first: the console has started, the request carries an open
//! session, and a state-changing form carries that session's CSRF token (and, when the browser
//! says where the form came from, comes from the console's own origin). Also the pages' common
//! frame and the plain answers (401, 403, 404 …) as pages.

use super::form::Form;
use super::sessions::Session;
use super::Console;
use crate::ops::admin::AdminState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A handler's early answer (a refusal, an error page), boxed: a `Response` is large.
pub type Refusal = Box<Response>;

/// A signed-in request.
#[derive(Debug, Clone)]
pub struct Signed {
    pub console: Console,
    /// The session's id (the cookie's value).
    pub sid: String,
    pub session: Session,
}

/// What every page's frame shows.
#[derive(Debug, Serialize)]
pub struct Frame {
    pub title: String,
    /// The signed-in person's name (`None`: nobody, the header shows no navigation).
    pub person: Option<String>,
    pub csrf: String,
    pub notice: Option<String>,
    /// Which navigation entry is current.
    pub nav: &'static str,
}

impl Frame {
    pub fn anonymous(title: &str) -> Frame {
        Frame {
            title: title.to_owned(),
            person: None,
            csrf: String::new(),
            notice: None,
            nav: "",
        }
    }
}

impl Signed {
    /// The frame of a page for this session; takes the session's one-time notice.
    pub fn frame(&self, title: &str, nav: &'static str) -> Frame {
        Frame {
            title: title.to_owned(),
            person: Some(format!(
                "{} ({})",
                self.session.person.name, self.session.person.key
            )),
            csrf: self.session.csrf.clone(),
            notice: self.console.0.sessions.set_notice(&self.sid, None),
            nav,
        }
    }

    /// Leaves `text` to show on the next page.
    pub fn notice(&self, text: String) {
        self.console.0.sessions.set_notice(&self.sid, Some(text));
    }

    /// A page answering with `status`, in this session's frame.
    pub fn message(&self, status: StatusCode, heading: &str, text: &str) -> Response {
        let frame = self.frame(heading, "");
        message_page(&self.console, status, frame, heading, text)
    }
}

/// The console, once started.
pub fn ready(state: &AdminState) -> Result<Console, Refusal> {
    state.console.get().cloned().ok_or_else(|| {
        Box::new(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the bridge is starting; try again shortly",
            )
                .into_response(),
        )
    })
}

/// The signed-in request, or a page saying how to sign in (401). `touch`: the request counts
/// as use of the session (not the event stream's).
pub fn signed(state: &AdminState, headers: &HeaderMap, touch: bool) -> Result<Signed, Refusal> {
    let console = ready(state)?;
    let found = super::headers::session_id(headers).and_then(|sid| {
        let session = console.0.sessions.get(&sid, Instant::now(), touch)?;
        Some((sid, session))
    });
    match found {
        Some((sid, session)) => Ok(Signed {
            console,
            sid,
            session,
        }),
        None => Err(Box::new(message_page(
            &console,
            StatusCode::UNAUTHORIZED,
            Frame::anonymous("Not signed in"),
            "Not signed in",
            "Your session has ended or you have not signed in. Type !weblogin in your \
             moderation room: the bridge sends you a sign-in link in a direct message.",
        ))),
    }
}

/// A state-changing request: signed in, a form that reads, and its CSRF token (and origin)
/// checked. Every `POST` handler starts here.
pub fn posted(
    state: &AdminState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Signed, Form), Refusal> {
    let signed = signed(state, headers, true)?;
    let form = form(&signed.console, body)?;
    csrf(&signed, &form, headers)?;
    Ok((signed, form))
}

/// Where to go back to after an action on `page` (`/console/queue`): the form's `back` if it is
/// a view of that page, else the page itself; never elsewhere (no open redirect). Our own links
/// are percent-encoded; anything else could not be a header.
pub fn back_to(form: &Form, page: &str) -> String {
    match form.get("back") {
        Some(b)
            if (b == page || b.strip_prefix(page).is_some_and(|q| q.starts_with('?')))
                && b.bytes().all(|c| c.is_ascii_graphic() && c != b'\\') =>
        {
            b.to_owned()
        }
        _ => page.to_owned(),
    }
}

/// Checks a state-changing form: its `csrf` field must be the session's token, and an `Origin`
/// header, when the browser sends one, must be the console's. Refused with 403.
pub fn csrf(signed: &Signed, form: &Form, headers: &HeaderMap) -> Result<(), Refusal> {
    let token_ok = form
        .get("csrf")
        .is_some_and(|t| constant_time_eq(t.as_bytes(), signed.session.csrf.as_bytes()));
    let origin_ok = match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(o)) => o == signed.console.settings().public_url,
        Some(Err(_)) => false,
    };
    if token_ok && origin_ok {
        return Ok(());
    }
    Err(Box::new(signed.message(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form did not come from your console page (its security token is missing or \
         wrong). Reload the page and try again.",
    )))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// Renders `template` with `ctx`; a template failure is logged and answered 500.
pub fn render(
    console: &Console,
    status: StatusCode,
    template: &'static str,
    ctx: impl Serialize,
) -> Response {
    match console.0.templates.render(template, ctx) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed; see the log",
            )
                .into_response()
        }
    }
}

/// A page with one paragraph.
pub fn message_page(
    console: &Console,
    status: StatusCode,
    frame: Frame,
    heading: &str,
    text: &str,
) -> Response {
    render(
        console,
        status,
        "message.html",
        minijinja::context! { heading => heading, text => text, ..minijinja::Value::from_serialize(&frame) },
    )
}

/// The client's address, when the listener knows it.
pub fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Reads a form body, or answers 400.
pub fn form(console: &Console, body: &[u8]) -> Result<Form, Refusal> {
    Form::parse(body).map_err(|e| {
        Box::new(message_page(
            console,
            StatusCode::BAD_REQUEST,
            Frame::anonymous("Bad form"),
            "Bad form",
            &e.to_string(),
        ))
    })
}

/// A filter's fields as a query string, to come back to the same view: blank fields are left
/// out and values are trimmed, so a filter read back from it is the same filter.
pub fn query(fields: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        let v = v.trim();
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    q.finish()
}
