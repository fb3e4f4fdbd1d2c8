//! Users through the shared-secret registration admin API
//! (`/_synapse/admin/v1/register`): a nonce, then an HMAC-SHA1 over
//! `nonce \0 user \0 password \0 admin|notadmin` keyed with the shared secret.

use super::error::SynapseError;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;

/// A user the launcher registered.
#[derive(Clone, Deserialize)]
pub struct RegisteredUser {
    pub user_id: String,
    #[serde(skip)]
    pub localpart: String,
    #[serde(skip)]
    pub password: String,
    pub access_token: String,
    pub device_id: String,
}

impl std::fmt::Debug for RegisteredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredUser")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

pub(crate) fn mac(
    secret: &str,
    nonce: &str,
    user: &str,
    password: &str,
    admin: bool,
) -> Result<String, SynapseError> {
    // HMAC accepts keys of any length; the error branch is unreachable in practice.
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .map_err(|e| SynapseError::Http(format!("hmac key: {e}")))?;
    for (i, part) in [nonce, user, password].into_iter().enumerate() {
        if i > 0 {
            m.update(b"\0");
        }
        m.update(part.as_bytes());
    }
    m.update(b"\0");
    m.update(if admin {
        b"admin".as_slice()
    } else {
        b"notadmin"
    });
    Ok(hex::encode(m.finalize().into_bytes()))
}

pub(crate) async fn register(
    base: &str,
    secret: &str,
    localpart: &str,
    password: &str,
    admin: bool,
) -> Result<RegisteredUser, SynapseError> {
    let http = reqwest::Client::new();
    let url = format!("{base}/_synapse/admin/v1/register");
    #[derive(Deserialize)]
    struct Nonce {
        nonce: String,
    }
    let nonce: Nonce = http.get(&url).send().await?.json().await?;
    let body = json!({
        "nonce": nonce.nonce,
        "username": localpart,
        "password": password,
        "admin": admin,
        "mac": mac(secret, &nonce.nonce, localpart, password, admin)?,
    });
    let resp = http.post(&url).json(&body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        return Err(SynapseError::Refused {
            what: format!("register {localpart}"),
            status: status.as_u16(),
            body: text,
        });
    }
    let mut user: RegisteredUser =
        serde_json::from_str(&text).map_err(|e| SynapseError::Http(format!("{e}: {text}")))?;
    user.localpart = localpart.to_owned();
    user.password = password.to_owned();
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against Python's
    /// `hmac.new(b"secret", b"n\x00u\x00p\x00notadmin", hashlib.sha1).hexdigest()`.
    #[test]
    fn mac_matches_python_hmac_sha1() {
        assert_eq!(
            mac("secret", "n", "u", "p", false).expect("mac"),
            "0f2b4751fa14a68d6a6878c313b752580706c394"
        );
    }
}
