//! `[admin] tokens`: who may call the admin API, each token named (the audit log records the
//! name, never the token) and given a role on every link.
//!
//! ```toml
//! [admin]
//! tokens = [
//!   { name = "ops", role = "admin", token = "…at least 24 characters…" },
//!   { name = "helpdesk", role = "moderator", token = "…" },
//! ]
//! ```
//!
//! or, from the environment, `CIVICBRIDGE__ADMIN__TOKENS="ops:admin:SECRET helpdesk:moderator:SECRET"`
//! (entries separated by spaces or commas). A token is compared in constant time.

use crate::moderation::commands::permissions::Role;
use crate::ops::config::ConfigError;
use serde::Deserialize;
use std::sync::Arc;

/// The shortest token accepted: anything shorter is guessable over a network.
pub const MIN_LEN: usize = 24;

/// `tokens` as written: a list of tables, or one string (the environment's form).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTokens {
    List(Vec<RawToken>),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub name: String,
    pub role: String,
    pub token: String,
}

/// One caller of the admin API.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub role: Role,
    secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The configured tokens. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens(Arc<Vec<Token>>);

impl Tokens {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The token `presented` is, if any. Every configured token is compared in full, so the
    /// time taken says nothing about which one came close.
    pub fn check(&self, presented: &str) -> Option<&Token> {
        let mut found = None;
        for t in self.0.iter() {
            if constant_time_eq(t.secret.as_bytes(), presented.as_bytes()) {
                found = Some(t);
            }
        }
        found
    }

    /// An admin token's name and secret, for the command line on this machine (it reads the
    /// same config) to act through the API while the bridge runs.
    pub fn first_admin(&self) -> Option<(&str, &str)> {
        self.0
            .iter()
            .find(|t| t.role == Role::Admin)
            .map(|t| (t.name.as_str(), t.secret.as_str()))
    }

    /// The secrets, to keep out of the log.
    pub fn secrets(&self) -> Vec<String> {
        self.0.iter().map(|t| t.secret.clone()).collect()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

impl RawTokens {
    /// Checks every entry; errors name the key (`admin.tokens[1].role`).
    pub fn validate(self) -> Result<Tokens, ConfigError> {
        let entries: Vec<(String, RawToken)> = match self {
            RawTokens::List(list) => list
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("admin.tokens[{i}]"), t))
                .collect(),
            RawTokens::Text(text) => text
                .split([' ', ',', '\n', '\t'])
                .filter(|e| !e.is_empty())
                .enumerate()
                .map(|(i, entry)| {
                    let key = format!("admin.tokens[{i}]");
                    let mut parts = entry.splitn(3, ':');
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some(name), Some(role), Some(token)) => Ok((
                            key,
                            RawToken {
                                name: name.into(),
                                role: role.into(),
                                token: token.into(),
                            },
                        )),
                        _ => Err(invalid(key, "is not `name:role:token`")),
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let mut tokens: Vec<Token> = Vec::new();
        for (key, raw) in entries {
            let valid_name = (1..=32).contains(&raw.name.len())
                && raw
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid_name {
                return Err(invalid(
                    format!("{key}.name"),
                    "must be 1 to 32 of a-z, 0-9, _ and - (the audit log records it)",
                ));
            }
            if tokens.iter().any(|t| t.name == raw.name) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("`{}` is used twice", raw.name),
                ));
            }
            let role = match raw.role.as_str() {
                "admin" => Role::Admin,
                "moderator" => Role::Moderator,
                other => {
                    return Err(invalid(
                        format!("{key}.role"),
                        format!("`{other}` is not a role (admin or moderator)"),
                    ))
                }
            };
            if raw.token.chars().count() < MIN_LEN
                || raw
                    .token
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(invalid(
                    format!("{key}.token"),
                    format!("must be at least {MIN_LEN} characters without spaces (e.g. from `openssl rand -hex 24`)"),
                ));
            }
            if tokens.iter().any(|t| t.secret == raw.token) {
                return Err(invalid(
                    format!("{key}.token"),
                    "is the same as another token",
                ));
            }
            tokens.push(Token {
                name: raw.name,
                role,
                secret: raw.token,
            });
        }
        Ok(Tokens(Arc::new(tokens)))
    }
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef01234567";

    fn list(entries: &[(&str, &str, &str)]) -> RawTokens {
        RawTokens::List(
            entries
                .iter()
                .map(|(n, r, t)| RawToken {
                    name: (*n).into(),
                    role: (*r).into(),
                    token: (*t).into(),
                })
                .collect(),
        )
    }

    #[test]
    fn tokens_are_found_by_their_secret_and_only_by_it() {
        let other = "fedcba9876543210fedcba98";
        let tokens = list(&[("ops", "admin", SECRET), ("desk", "moderator", other)])
            .validate()
            .unwrap();
        assert_eq!(
            tokens.check(SECRET).map(|t| (t.name.as_str(), t.role)),
            Some(("ops", Role::Admin))
        );
        assert_eq!(tokens.check(other).map(|t| t.role), Some(Role::Moderator));
        for wrong in [
            "",
            "0123456789abcdef0123456",
            "0123456789abcdef012345678",
            "ops",
            &SECRET.to_uppercase(),
        ] {
            assert!(tokens.check(wrong).is_none(), "{wrong:?}");
        }
        assert!(
            !format!("{tokens:?}").contains(SECRET),
            "Debug never shows a secret"
        );
    }

    #[test]
    fn the_environment_form_reads_the_same() {
        let text = format!("ops:admin:{SECRET}, desk:moderator:{}", "x".repeat(30));
        let tokens = RawTokens::Text(text).validate().unwrap();
        assert_eq!(tokens.check(SECRET).map(|t| t.name.as_str()), Some("ops"));
        assert_eq!(
            tokens.check(&"x".repeat(30)).map(|t| t.name.as_str()),
            Some("desk")
        );
        // A token may contain a colon.
        let tokens = RawTokens::Text(format!("ops:admin:{SECRET}:more"))
            .validate()
            .unwrap();
        assert!(tokens.check(&format!("{SECRET}:more")).is_some());
    }

    #[test]
    fn bad_entries_name_their_key() {
        let cases: Vec<(RawTokens, &str)> = vec![
            (list(&[("Ops", "admin", SECRET)]), "admin.tokens[0].name"),
            (list(&[("", "admin", SECRET)]), "admin.tokens[0].name"),
            (list(&[("ops", "root", SECRET)]), "admin.tokens[0].role"),
            (list(&[("ops", "admin", "short")]), "admin.tokens[0].token"),
            (
                list(&[("ops", "admin", &format!("{SECRET} x"))]),
                "admin.tokens[0].token",
            ),
            (
                list(&[("ops", "admin", SECRET), ("ops", "admin", &"y".repeat(30))]),
                "admin.tokens[1].name",
            ),
            (
                list(&[("ops", "admin", SECRET), ("desk", "admin", SECRET)]),
                "admin.tokens[1].token",
            ),
            (RawTokens::Text("ops:admin".into()), "admin.tokens[0]"),
        ];
        for (raw, key) in cases {
            let e = raw.validate().unwrap_err().to_string();
            assert!(e.starts_with(&format!("{key}:")), "{key}: {e}");
            assert!(!e.contains(SECRET), "an error never shows a token: {e}");
        }
    }
}
