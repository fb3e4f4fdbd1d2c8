//! The queue page: every held item of the signed-in person's links, filtered (link, platform,
//! direction, the rule that held it, sender, age) and sorted by age, oldest first; several can
//! be approved or rejected at once. A decision runs `!approve`/`!reject` on each item's link
//! through [`crate::ops::remote`]: the same code, permissions and audit entries as typed in
//! the room, items named by the revision shown (an item edited since is refused, as there).
//! A claimed item shows its claim as its card does (`cards::claimed_by`), while it lasts.

use super::guard::{self, Signed};
use super::who::Person;
use super::Console;
use crate::moderation::approval::ItemRef;
use crate::moderation::commands::Command;
use crate::moderation::rules::Side;
use crate::moderation::HoldReasons;
use crate::store::prelude::*;
use crate::store::{LinkRecord, PendingItem, StoreError};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::LinkId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest reason in the moderator's words.
const MAX_REASON: usize = 500;
/// The longest text a filter field is compared with.
const MAX_FILTER: usize = 200;

/// The page's filters, from its query string. Empty fields filter nothing.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Filter {
    pub link: String,
    pub platform: String,
    /// `staff_to_public`, `public_to_staff` or `public_to_public`.
    pub direction: String,
    /// The kind of rule that held the item (`policy`, `links` …).
    pub rule: String,
    /// A part of the sender's name as the moderation room sees it, in any case.
    pub sender: String,
    /// `1h`, `1d`, `7d`: only items waiting at least that long.
    pub age: String,
}

impl Filter {
    fn min_age_ms(&self) -> u64 {
        match self.age.as_str() {
            "1h" => 3_600_000,
            "1d" => 86_400_000,
            "7d" => 7 * 86_400_000,
            _ => 0,
        }
    }

    fn admits(&self, row: &Row, now_ms: u64) -> bool {
        let sender = self
            .sender
            .chars()
            .take(MAX_FILTER)
            .collect::<String>()
            .to_lowercase();
        (self.link.is_empty() || row.link == self.link)
            && (self.platform.is_empty() || row.platform == self.platform)
            && (self.direction.is_empty() || row.directions.contains(&self.direction))
            && (self.rule.is_empty() || row.rules.contains(&self.rule))
            && (sender.is_empty() || row.sender.to_lowercase().contains(&sender))
            && now_ms.saturating_sub(row.held_at_ms) >= self.min_age_ms()
    }
}

/// One held item as the queue lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The pending id's number (the item page's path).
    pub id: u64,
    /// The item and the revision shown, as a decision names it (`#3v2`).
    pub value: String,
    /// As cards name it (`#3`, `#3v2`).
    pub reference: String,
    pub link: String,
    pub platform: String,
    /// The room it was written in, by name.
    pub from: String,
    /// As the link's moderation room sees the author (a pseudonym where the rules say so).
    pub sender: String,
    pub excerpt: String,
    pub reason: String,
    pub rules: Vec<String>,
    pub directions: Vec<String>,
    pub age: String,
    pub held_at_ms: u64,
    /// Who claimed it and until when, as its card says (`Claimed by Mo until …`), while the
    /// claim lasts.
    pub claim: Option<String>,
}

/// How long something has waited, in words.
pub fn age(ms: u64) -> String {
    let min = ms / 60_000;
    match min {
        0 => "under a minute".into(),
        1..=59 => format!("{min} min"),
        60..=2879 => format!("{} h", min / 60),
        _ => format!("{} days", min / 1440),
    }
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Staff => "staff",
        Side::Public => "public",
    }
}

/// The row of `item`, read from the committed store. `None`: its message is gone.
pub fn row(
    console: &Console,
    link: &LinkRecord,
    item: &PendingItem,
    now_ms: u64,
) -> Result<Option<Row>, StoreError> {
    let mut store = console.store();
    let Some(m) = store.mirror(item.mirror)? else {
        return Ok(None);
    };
    let shown_in = link.moderation_room.as_ref().unwrap_or(&m.source);
    let sender = crate::privacy::shown_author(&mut store, &m, shown_in)?.name;
    let from = link.side_of(&m.source);
    let mut directions: Vec<String> = item
        .targets
        .iter()
        .filter_map(|t| Some(format!("{}_to_{}", side(from?), side(link.side_of(t)?))))
        .collect();
    directions.dedup();
    let rules = match &item.reason {
        HoldReasons::Typed(rs) => rs.iter().map(|r| r.kind().to_owned()).collect(),
        HoldReasons::Written(_) => vec!["other".to_owned()],
    };
    let revision = item.revision.max(1);
    Ok(Some(Row {
        id: item.id.0,
        value: format!("{}v{revision}", item.id),
        reference: item.reference(),
        link: item.link.to_string(),
        platform: m.source.platform.as_str().to_owned(),
        from: store.room_label(&m.source),
        sender,
        excerpt: crate::pipeline::render::excerpt(item.text(&m)),
        reason: item.reason.to_string(),
        rules,
        directions,
        age: age(now_ms.saturating_sub(item.held_at_ms)),
        held_at_ms: item.held_at_ms,
        claim: item
            .claimed(now_ms)
            .map(crate::moderation::cards::claimed_by),
    }))
}

/// Every held item of `person`'s links, oldest first (unfiltered).
pub fn rows_of(console: &Console, person: &Person) -> Result<Vec<Row>, StoreError> {
    let links = console.links();
    let mine: BTreeMap<&str, &LinkRecord> = person
        .links(&links)
        .into_iter()
        .map(|l| (l.id.as_str(), l))
        .collect();
    let now = crate::store::now_ms();
    let mut items: Vec<PendingItem> = console
        .store()
        .pending()?
        .into_iter()
        .filter(|i| mine.contains_key(i.link.as_str()))
        .collect();
    items.sort_by_key(|i| (i.held_at_ms, i.id.0));
    let mut rows = Vec::with_capacity(items.len());
    for item in &items {
        if let Some(link) = mine.get(item.link.as_str()) {
            if let Some(r) = row(console, link, item, now)? {
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

/// What a person may pick as a reason: their links' reasons, each code once.
pub fn reasons(console: &Console, person: &Person) -> Result<Vec<(String, String)>, StoreError> {
    let links = console.links();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for l in person.links(&links) {
        for r in console.store().rules(&l.id)?.unwrap_or_default().reasons {
            out.entry(r.code).or_insert(r.label);
        }
    }
    Ok(out.into_iter().collect())
}

#[derive(Debug, Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

const DIRECTIONS: &[Choice] = &[
    Choice {
        value: "public_to_staff",
        label: "public → staff",
    },
    Choice {
        value: "staff_to_public",
        label: "staff → public",
    },
    Choice {
        value: "public_to_public",
        label: "public → public",
    },
];

const AGES: &[Choice] = &[
    Choice {
        value: "",
        label: "Any time",
    },
    Choice {
        value: "1h",
        label: "Over an hour",
    },
    Choice {
        value: "1d",
        label: "Over a day",
    },
    Choice {
        value: "7d",
        label: "Over a week",
    },
];

fn store_failed(signed: &Signed, e: &StoreError) -> Response {
    tracing::error!(error = %e, "a console page could not read the store");
    signed.message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The bridge could not read its store; see its log.",
    )
}

pub async fn page(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let person = &signed.session.person;
    let all = match rows_of(&signed.console, person) {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    let reasons = match reasons(&signed.console, person) {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    let now = crate::store::now_ms();
    let mut platforms: Vec<&str> = all.iter().map(|r| r.platform.as_str()).collect();
    platforms.sort_unstable();
    platforms.dedup();
    let mut rules: Vec<&str> = all
        .iter()
        .flat_map(|r| r.rules.iter().map(String::as_str))
        .collect();
    rules.sort_unstable();
    rules.dedup();
    let links = signed.console.links();
    let link_ids: Vec<String> = person
        .links(&links)
        .iter()
        .map(|l| l.id.to_string())
        .collect();
    let rows: Vec<&Row> = all.iter().filter(|r| filter.admits(r, now)).collect();
    let back = match query(&filter) {
        q if q.is_empty() => "/console/queue".to_owned(),
        q => format!("/console/queue?{q}"),
    };
    let frame = signed.frame("Held items", "queue");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "queue.html",
        minijinja::context! {
            rows => rows,
            filter => filter,
            links => link_ids,
            platforms => platforms,
            rules => rules,
            directions => DIRECTIONS,
            ages => AGES,
            reasons => reasons.iter().map(|(code, label)| minijinja::context! { code => code, label => label }).collect::<Vec<_>>(),
            back => back,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

/// The filters as a query string, for coming back to the same view after a decision.
fn query(f: &Filter) -> String {
    guard::query(&[
        ("link", &f.link),
        ("platform", &f.platform),
        ("direction", &f.direction),
        ("rule", &f.rule),
        ("sender", &f.sender),
        ("age", &f.age),
    ])
}

/// The table's rows alone, for the page's script to swap in when the queue changed.
pub async fn rows(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Response {
    // Fetched by the page's script on a change, not by the person: not a use of the session.
    let signed = match guard::signed(&state, &headers, false) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let all = match rows_of(&signed.console, &signed.session.person) {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    let now = crate::store::now_ms();
    let rows: Vec<&Row> = all.iter().filter(|r| filter.admits(r, now)).collect();
    guard::render(
        &signed.console,
        StatusCode::OK,
        "queue_rows.html",
        minijinja::context! { rows => rows },
    )
}

/// What a decision form asked.
#[derive(Debug)]
struct Asked {
    approve: bool,
    items: Vec<ItemRef>,
    reason: Option<String>,
}

fn asked(form: &super::form::Form) -> Result<Asked, String> {
    let approve = match form.get("action") {
        Some("approve") => true,
        Some("reject") => false,
        _ => return Err("Say whether to approve or reject.".into()),
    };
    let items = form
        .all("item")
        .map(|v| v.parse::<ItemRef>())
        .collect::<Result<Vec<_>, _>>()?;
    if items.len() > super::form::MAX_ITEMS {
        return Err(format!(
            "At most {} items can be decided at once.",
            super::form::MAX_ITEMS
        ));
    }
    let typed = form.get("reason_text").unwrap_or_default().trim();
    if typed.chars().count() > MAX_REASON {
        return Err(format!("A reason is at most {MAX_REASON} characters."));
    }
    let code = form.get("reason").unwrap_or_default().trim();
    let reason = if !typed.is_empty() {
        Some(typed.to_owned())
    } else if !code.is_empty() {
        Some(code.chars().take(MAX_REASON).collect())
    } else {
        None
    };
    Ok(Asked {
        approve,
        items,
        reason,
    })
}

pub async fn decide(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let back = guard::back_to(&form, "/console/queue");
    let asked = match asked(&form) {
        Ok(a) => a,
        Err(why) => return signed.message(StatusCode::BAD_REQUEST, "Not decided", &why),
    };
    if asked.items.is_empty() {
        signed.notice("Select at least one item first.".into());
        return Redirect::to(&back).into_response();
    }
    match decide_items(&signed, &asked).await {
        Ok(Decided { lines, refused }) if refused => {
            signed.message(StatusCode::FORBIDDEN, "Refused", &lines.join("\n"))
        }
        Ok(Decided { lines, .. }) => {
            signed.notice(lines.join("\n"));
            Redirect::to(&back).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "a console decision failed");
            signed.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed",
                "The decision could not be stored; see the bridge's log.",
            )
        }
    }
}

struct Decided {
    lines: Vec<String>,
    refused: bool,
}

/// Runs the decision, link by link, as the commands of the rooms; one console audit entry.
async fn decide_items(
    signed: &Signed,
    asked: &Asked,
) -> Result<Decided, crate::ops::remote::RemoteError> {
    let console = &signed.console;
    let person = &signed.session.person;
    let mut by_link: BTreeMap<LinkId, Vec<ItemRef>> = BTreeMap::new();
    let mut lines = Vec::new();
    for r in &asked.items {
        match console.store().pending_item(r.id)? {
            Some(item) => by_link.entry(item.link).or_default().push(*r),
            None => lines.push(format!("There is no held item {} (already decided?)", r.id)),
        }
    }
    let commands = by_link.iter().map(|(link, refs)| {
        let cmd = if asked.approve {
            Command::Approve(refs.clone())
        } else {
            Command::Reject(refs.clone(), asked.reason.clone())
        };
        (link.clone(), cmd)
    });
    let ran = signed.run_all(commands.collect()).await?;
    let refused = ran.refused;
    lines.extend(ran.lines);
    let action = if asked.approve { "approve" } else { "reject" };
    super::audit::write(
        console.store(),
        person,
        action,
        None,
        serde_json::json!({
            "items": asked.items.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "links": by_link.keys().collect::<Vec<_>>(),
            "refused": refused,
        }),
    )?;
    Ok(Decided { lines, refused })
}

#[cfg(test)]
mod tests {
    use super::super::form::Form;
    use super::*;

    #[test]
    fn ages_read_as_words() {
        assert_eq!(age(0), "under a minute");
        assert_eq!(age(5 * 60_000), "5 min");
        assert_eq!(age(3 * 3_600_000), "3 h");
        assert_eq!(age(3 * 86_400_000), "3 days");
    }

    #[test]
    fn decision_forms_are_read_strictly() {
        let f = Form::parse(b"action=reject&item=%233v1&item=%234v2&reason=spam&reason_text=")
            .expect("form");
        let a = asked(&f).expect("asked");
        assert!(!a.approve);
        assert_eq!(a.items.len(), 2);
        assert_eq!(a.reason.as_deref(), Some("spam"));
        let f =
            Form::parse(b"action=reject&item=%233&reason=spam&reason_text=my+words").expect("form");
        assert_eq!(
            asked(&f).expect("asked").reason.as_deref(),
            Some("my words")
        );
        for bad in [
            &b"action=delete&item=%233"[..],
            b"item=%233",
            b"action=approve&item=..%2F",
        ] {
            assert!(asked(&Form::parse(bad).expect("form")).is_err());
        }
        let long = format!(
            "action=reject&item=1&reason_text={}",
            "x".repeat(MAX_REASON + 1)
        );
        assert!(asked(&Form::parse(long.as_bytes()).expect("form")).is_err());
    }

    #[test]
    fn only_queue_views_are_gone_back_to() {
        let back = |v: &str| {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("back", v)
                .finish();
            guard::back_to(
                &Form::parse(body.as_bytes()).expect("form"),
                "/console/queue",
            )
        };
        assert_eq!(back("/console/queue?link=a"), "/console/queue?link=a");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/console/queue\r\nX: y",
            "/console/queueevil",
            "/console/queue?é",
            "/console/queue?\u{1}",
        ] {
            assert_eq!(back(bad), "/console/queue", "{bad}");
        }
    }
}
