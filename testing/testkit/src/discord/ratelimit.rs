//! Per-route rate-limit buckets, as Discord keeps them: a bucket per route template and major
//! parameter (the channel, or the webhook), each with a limit per window. Every answer carries
//! its bucket's `X-RateLimit-*` headers (remaining counts down, reset is when the window ends);
//! with enforcement on, a request to an exhausted bucket answers 429 with `retry_after` and
//! `X-RateLimit-Scope: user`, as Discord does.

use std::collections::HashMap;

/// One route's limit: `limit` requests per `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub limit: u32,
    pub window_ms: u64,
}

/// Discord's limits for the routes the fake serves (reactions: 1 per 250 ms; webhook
/// executions: 5 per 2 s; everything else: 5 per 5 s, as message creates are).
pub fn policy(template: &str) -> Policy {
    if template.contains("/reactions/") {
        Policy {
            limit: 1,
            window_ms: 250,
        }
    } else if template.starts_with("POST webhooks/") {
        Policy {
            limit: 5,
            window_ms: 2000,
        }
    } else {
        Policy {
            limit: 5,
            window_ms: 5000,
        }
    }
}

/// The route template (ids other than the major one replaced) and the major parameter of a
/// request: `POST channels/{channel_id}/messages` and the channel id, for example.
pub fn route(method: &str, path: &str) -> (String, String) {
    let rest = path.strip_prefix("/api/v10/").unwrap_or(path);
    let parts: Vec<&str> = rest.split('/').collect();
    let mut template = Vec::with_capacity(parts.len());
    let mut major = String::new();
    let mut i = 0;
    while i < parts.len() {
        let p = parts[i];
        let prev = i.checked_sub(1).and_then(|j| parts.get(j)).copied();
        match prev {
            Some("channels" | "guilds") if i == 1 => {
                major = p.to_owned();
                template.push("{major}");
            }
            Some("webhooks") if i == 1 => {
                // A webhook's bucket is its id and token.
                let token = parts.get(i + 1).copied().unwrap_or_default();
                major = format!("{p}/{token}");
                template.push("{major}");
                i += 1;
            }
            Some("reactions") => template.push("{emoji}"),
            _ if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => template.push("{id}"),
            _ => template.push(p),
        }
        i += 1;
    }
    (format!("{method} {}", template.join("/")), major)
}

#[derive(Debug)]
struct Bucket {
    used: u32,
    start_ms: u64,
}

/// What one request took from its bucket, for the response headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    pub limit: u32,
    pub remaining: u32,
    /// When the window ends, in ms since the epoch.
    pub reset_ms: u64,
    pub reset_after_ms: u64,
    /// The bucket's id (`X-RateLimit-Bucket`): the same for one route template everywhere.
    pub bucket: String,
    /// The bucket was already empty: with enforcement, the request is refused.
    pub exhausted: bool,
}

/// Every bucket of the fake.
#[derive(Debug, Default)]
pub struct Buckets {
    map: HashMap<(String, String), Bucket>,
}

impl Buckets {
    /// Counts a request to `method path` at `now_ms`.
    pub fn take(&mut self, method: &str, path: &str, now_ms: u64) -> Taken {
        let (template, major) = route(method, path);
        let p = policy(&template);
        let bucket = format!("{:016x}", fnv(&template));
        let b = self.map.entry((template, major)).or_insert(Bucket {
            used: 0,
            start_ms: now_ms,
        });
        if now_ms >= b.start_ms + p.window_ms {
            b.used = 0;
            b.start_ms = now_ms;
        }
        let exhausted = b.used >= p.limit;
        if !exhausted {
            b.used += 1;
        }
        let reset_ms = b.start_ms + p.window_ms;
        Taken {
            limit: p.limit,
            remaining: p.limit - b.used,
            reset_ms,
            reset_after_ms: reset_ms.saturating_sub(now_ms),
            bucket,
            exhausted,
        }
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_keep_the_major_parameter_only() {
        let (t, m) = route("PATCH", "/api/v10/channels/12/messages/34");
        assert_eq!(
            (t.as_str(), m.as_str()),
            ("PATCH channels/{major}/messages/{id}", "12")
        );
        let (t, m) = route("POST", "/api/v10/webhooks/5/tok");
        assert_eq!((t.as_str(), m.as_str()), ("POST webhooks/{major}", "5/tok"));
        let (t, _) = route("PUT", "/api/v10/channels/1/messages/2/reactions/👍/@me");
        assert_eq!(
            t,
            "PUT channels/{major}/messages/{id}/reactions/{emoji}/@me"
        );
    }

    #[test]
    fn a_bucket_counts_down_and_refills_after_its_window() {
        let mut b = Buckets::default();
        let path = "/api/v10/channels/1/messages";
        for left in (0..5).rev() {
            let t = b.take("POST", path, 1000);
            assert_eq!((t.remaining, t.exhausted), (left, false));
        }
        let t = b.take("POST", path, 2000);
        assert!(t.exhausted);
        assert_eq!((t.remaining, t.reset_after_ms), (0, 4000));
        // Another channel has its own bucket, with the same id.
        let other = b.take("POST", "/api/v10/channels/2/messages", 2000);
        assert_eq!((other.remaining, other.bucket), (4, t.bucket));
        assert_eq!(b.take("POST", path, 6000).remaining, 4);
    }
}
