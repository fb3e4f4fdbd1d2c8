//! The config's validation: every bad value is an error naming its key.
use super::*;
use async_trait::async_trait;
use civicbridge_api::{BuildError, Built, SectionError};

/// A platform for these tests: a section with one `token`; `hall` can host moderation
/// rooms, `square` cannot. (Each real connector tests its own section.)
#[derive(Debug)]
struct TestPlatform(Platform, bool);

#[async_trait]
impl PlatformFactory for TestPlatform {
    fn platform(&self) -> Platform {
        self.0
    }
    fn label(&self) -> &'static str {
        "Test"
    }
    fn hosts_moderation(&self) -> bool {
        self.1
    }
    fn check(&self, section: &Section) -> Result<Vec<String>, SectionError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            token: String,
        }
        let raw: Raw = section.parse()?;
        if raw.token == "oops" {
            return Err(section.invalid("token", "is not a token"));
        }
        Ok(vec![raw.token])
    }
    async fn build(&self, _: &Section, _: BuildContext) -> Result<Built, BuildError> {
        Err(BuildError::Failed("not built in these tests".into()))
    }
}

fn factories() -> Vec<Arc<dyn PlatformFactory>> {
    vec![
        Arc::new(TestPlatform(Platform::new("hall"), true)),
        Arc::new(TestPlatform(Platform::new("square"), false)),
    ]
}

const GOOD: &str = r#"
    [hall]
    token = "hall-secret-abcdefghij"
    [square]
    token = "square-secret-klmnop"
    [links.planning]
    moderation_room = "hall:!mod"
    moderators = ["hall:@mod"]
    rooms = [
      { room = "hall:!staff", side = "staff" },
      { room = "square:-100", side = "public" },
    ]
"#;

fn err(text: &str) -> String {
    Settings::from_toml(text, Path::new("/tmp"), &factories())
        .unwrap_err()
        .to_string()
}

/// What a reload cannot apply is named by key; links and rules are not on the list.
#[test]
fn a_reload_names_what_only_a_restart_changes() {
    use crate::ops::reload::needs_restart;
    let parse = |t: &str| Settings::from_toml(t, Path::new("/srv"), &factories()).unwrap();
    let old = parse(GOOD);
    assert!(needs_restart(&old, &parse(GOOD)).is_empty());
    let rules = format!("{GOOD}\n[links.planning.rules]\nlinks = \"drop\"\n");
    assert!(
        needs_restart(&old, &parse(&rules)).is_empty(),
        "rules apply at once"
    );
    // A changed account restarts that platform's connector alone, at once.
    let token = GOOD.replace("hall-secret-abcdefghij", "hall-secret-changed-0123");
    assert!(needs_restart(&old, &parse(&token)).is_empty());
    let changed: Vec<String> = crate::ops::reload::changed_sections(&old, &parse(&token))
        .iter()
        .map(|p| p.section.name().to_owned())
        .collect();
    assert_eq!(changed, vec!["hall"]);
    assert!(crate::ops::reload::changed_sections(&old, &parse(&rules)).is_empty());
    let store = format!("[store]\npath = \"/elsewhere\"\n{GOOD}");
    assert_eq!(needs_restart(&old, &parse(&store)), vec!["store.path"]);
    let admin = format!("{GOOD}\n[admin]\nlisten = \"127.0.0.1:9\"\n");
    assert_eq!(needs_restart(&old, &parse(&admin)), vec!["admin.listen"]);
    let token = |t: &str| {
        parse(&format!(
            "{GOOD}\n[admin]\nlisten = \"127.0.0.1:9\"\ntokens = \"ops:admin:{t}\"\n"
        ))
    };
    let rotated = needs_restart(
        &token("0123456789abcdef0123456789"),
        &token("fedcba9876543210fedcba9876"),
    );
    assert!(rotated.is_empty(), "a token changes at once: {rotated:?}");
    let log = format!("[log]\nfilter = \"debug\"\n{GOOD}");
    assert_eq!(needs_restart(&old, &parse(&log)), vec!["log"]);
}

#[test]
fn a_good_config_validates_with_default_rules() {
    let s = Settings::from_toml(GOOD, Path::new("/srv"), &factories()).expect("valid");
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].rules, Rules::default());
    assert_eq!(s.store_path, Path::new("/srv/civicbridge-data"));
    assert_eq!(
        s.platforms(),
        vec![Platform::new("hall"), Platform::new("square")]
    );
    assert_eq!(
        s.secrets,
        vec!["hall-secret-abcdefghij", "square-secret-klmnop"]
    );
    let ctx = s.build_context(Platform::new("hall"));
    assert_eq!(ctx.data_dir, Path::new("/srv/civicbridge-data/hall"));
    let rooms: Vec<&str> = ctx.rooms.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        rooms,
        vec!["!staff", "!mod"],
        "bridged and moderation rooms"
    );
    assert!(
        !format!("{:?}", s.links).contains("abcdefghij"),
        "secrets never print"
    );
}

#[test]
fn errors_name_the_key() {
    let e = err(&GOOD.replace("square:-100", "irc:#x"));
    assert!(
        e.starts_with("links.planning.rooms[1].room: platform irc has no [irc] section"),
        "{e}"
    );
    let e = err(&GOOD.replace("token = \"square-secret-klmnop\"", ""));
    assert!(
        e.starts_with("square: missing") && e.contains("token"),
        "{e}"
    );
    let e = err(&GOOD.replace("square-secret-klmnop", "oops"));
    assert!(e.starts_with("square.token: is not a token"), "{e}");
    let e = err(&format!(
        "{GOOD}\n[links.planning.rules]\nblocked_patterns = [\"(oops\"]\n"
    ));
    assert!(
        e.starts_with("links.planning.rules.blocked_patterns[0]: `(oops` is not a valid"),
        "{e}"
    );
    let e = err(&GOOD.replace("{ room = \"square:-100\", side = \"public\" },", ""));
    assert!(
        e.starts_with("links.planning.rooms: a link joins at least two rooms"),
        "{e}"
    );
    let e = err(&GOOD.replace("square:-100", "hall:!staff"));
    assert!(
        e.contains("already used at links.planning.rooms[0].room"),
        "{e}"
    );
    let e = err(&GOOD.replace("hall:!mod", "square:-5"));
    assert!(
        e.starts_with(
            "links.planning.moderation_room: square rooms cannot be moderation rooms (these can: hall)"
        ),
        "{e}"
    );
    let e = err(&GOOD.replace("moderators = [\"hall:@mod\"]", "moderators = [\"mod\"]"));
    assert!(e.starts_with("links.planning.moderators[0]"), "{e}");
    let e = err(&GOOD.replace("moderators = [\"hall:@mod\"]", "moderators = [\"irc:mod\"]"));
    assert!(e.starts_with("links.planning.moderators[0]"), "{e}");
    let e = err(&format!("{GOOD}\n[admin]\nlisten = \"localhost\"\n"));
    assert!(
        e.starts_with("admin.listen: `localhost` is not an address"),
        "{e}"
    );
    let e = err(&format!("surprise = 1\n{GOOD}"));
    assert!(
        e.starts_with("surprise: not a setting, nor a platform this build knows (hall, square)"),
        "{e}"
    );
}

/// `[console]` rides on the admin listener: read into its settings, refused without it, and
/// a change of it named as needing a restart.
#[test]
fn the_console_section_needs_the_admin_listener() {
    let parse = |t: &str| Settings::from_toml(t, Path::new("/srv"), &factories()).unwrap();
    let on = format!(
        "{GOOD}\n[admin]\nlisten = \"127.0.0.1:9\"\n[console]\npublic_url = \"https://bridge.example.org/\"\nidle_minutes = 10\n"
    );
    let s = parse(&on);
    let console = s.admin.as_ref().and_then(|a| a.console.clone()).unwrap();
    assert_eq!(console.public_url, "https://bridge.example.org");
    assert!(console.secure);
    assert_eq!(console.idle, std::time::Duration::from_secs(600));
    assert!(parse(GOOD).admin.is_none());
    let e = err(&format!("{GOOD}\n[console]\npublic_url = \"https://x\"\n"));
    assert!(e.starts_with("console.public_url: "), "{e}");
    assert!(e.contains("admin.listen"), "{e}");
    let e = err(&format!(
        "{GOOD}\n[admin]\nlisten = \"127.0.0.1:9\"\n[console]\npublic_url = \"https://x/path\"\n"
    ));
    assert!(e.starts_with("console.public_url: "), "{e}");
    let e = err(&format!("{GOOD}\n[console]\nnonsense = 1\n"));
    assert!(e.contains("nonsense"), "{e}");
    let other = on.replace("idle_minutes = 10", "idle_minutes = 20");
    assert_eq!(
        crate::ops::reload::needs_restart(&s, &parse(&other)),
        vec!["console"]
    );
}

/// `[console] openid_homeservers` is checked as it is read, and refused when no platform's
/// people it could sign in (no platform names an OpenID homeserver here).
#[test]
fn openid_homeservers_need_a_platform_that_signs_people_in() {
    let console = |map: &str| {
        format!(
            "{GOOD}\n[admin]\nlisten = \"127.0.0.1:9\"\n[console]\npublic_url = \"https://x\"\nopenid_homeservers = {map}\n"
        )
    };
    let e = err(&console(
        r#"{ "example.org" = "https://matrix.example.org" }"#,
    ));
    assert!(e.starts_with("console.openid_homeservers: "), "{e}");
    assert!(e.contains("no configured platform"), "{e}");
    let e = err(&console(
        r#"{ "example.org/x" = "https://matrix.example.org" }"#,
    ));
    assert!(e.starts_with("console.openid_homeservers: "), "{e}");
    let s = Settings::from_toml(&console("{}"), Path::new("/srv"), &factories()).unwrap();
    let c = s.admin.and_then(|a| a.console).unwrap();
    assert_eq!(c.openid.platform(), None, "off: no homeserver to ask");
}
