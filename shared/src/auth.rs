//! Reading the caller's key from the request and authenticating it (with its rate limit).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::{app::App, error::Error, keys::KeyKind, model::Caller, ratelimit::RateState, store};

/// Which `Authorization` schemes an endpoint accepts for its admin key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schemes {
    Bearer,
    /// Seed 002 sends `Token <key>`; Bearer works there too.
    BearerOrToken,
}

/// The key presented in `Authorization`, if it is well formed for `kind`. Anything else is
/// refused before any I/O.
pub fn presented_admin_key(headers: &HeaderMap, schemes: Schemes) -> Option<&str> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, key) = value.split_once(' ')?;
    let accepted = scheme.eq_ignore_ascii_case("bearer")
        || (schemes == Schemes::BearerOrToken && scheme.eq_ignore_ascii_case("token"));
    let key = key.trim();
    (accepted && well_formed(key, KeyKind::Admin)).then_some(key)
}

/// The publishable key of the user API, from `UserHub-Api-Key`.
pub fn presented_user_key(headers: &HeaderMap) -> Option<&str> {
    let key = headers.get("userhub-api-key")?.to_str().ok()?.trim();
    well_formed(key, KeyKind::User).then_some(key)
}

fn well_formed(key: &str, kind: KeyKind) -> bool {
    KeyKind::of(key) == Some(kind)
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether this container refused the key (by its hash) in the last minute: then it is refused
/// again with no I/O, so a flood of the same bad key costs DynamoDB nothing after its first try.
pub fn refused_lately(hash: &str) -> bool {
    REFUSED.holds(hash, Instant::now())
}

/// Authenticates a key (by its hash, [`crate::keys::Hasher::hash_api_key`]) and counts the
/// request against its rate limit; a key found unknown or revoked is remembered a minute.
pub async fn authenticate(
    app: &App,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(Caller, RateState), Error> {
    let result = store::keys::authorize(&app.table, hash, now).await;
    if matches!(result, Err(Error::Unauthenticated)) {
        REFUSED.remember(hash, Instant::now());
    }
    result
}

/// Hashes of keys refused lately, per container.
static REFUSED: RefusedKeys = RefusedKeys::new();

/// A short memory of refused keys: bounded in time (a minute, so a key made meanwhile cannot be
/// refused for long; keys are random, so that needs a hash collision anyway) and in size.
struct RefusedKeys(Mutex<Option<HashMap<String, Instant>>>);

impl RefusedKeys {
    const FOR: Duration = Duration::from_secs(60);
    const MOST: usize = 4096;

    const fn new() -> Self {
        Self(Mutex::new(None))
    }

    fn holds(&self, hash: &str, now: Instant) -> bool {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard
            .as_ref()
            .and_then(|keys| keys.get(hash))
            .is_some_and(|until| *until > now)
    }

    fn remember(&self, hash: &str, now: Instant) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let keys = guard.get_or_insert_with(HashMap::new);
        if keys.len() >= Self::MOST {
            keys.retain(|_, until| *until > now);
            if keys.len() >= Self::MOST {
                // A flood of distinct bad keys: each costs its one try anyway.
                keys.clear();
            }
        }
        keys.insert(hash.to_owned(), now + Self::FOR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_admin_keys_are_read() {
        let h = headers(&[("authorization", "Bearer sk_abc123")]);
        assert_eq!(presented_admin_key(&h, Schemes::Bearer), Some("sk_abc123"));
        let h = headers(&[("authorization", "bearer   sk_abc123 ")]);
        assert_eq!(presented_admin_key(&h, Schemes::Bearer), Some("sk_abc123"));
    }

    #[test]
    fn token_scheme_only_where_accepted() {
        let h = headers(&[("authorization", "Token sk_abc")]);
        assert_eq!(presented_admin_key(&h, Schemes::Bearer), None);
        assert_eq!(
            presented_admin_key(&h, Schemes::BearerOrToken),
            Some("sk_abc")
        );
    }

    #[test]
    fn refused_keys_are_remembered_a_minute_and_boundedly() {
        let refused = RefusedKeys::new();
        let t0 = Instant::now();
        refused.remember("a", t0);
        assert!(refused.holds("a", t0 + Duration::from_secs(59)));
        assert!(!refused.holds("a", t0 + Duration::from_secs(61)));
        assert!(!refused.holds("b", t0));
        for i in 0..RefusedKeys::MOST + 10 {
            refused.remember(&i.to_string(), t0);
        }
        let size = refused.0.lock().unwrap().as_ref().map_or(0, HashMap::len);
        assert!(size <= RefusedKeys::MOST, "{size}");
    }

    #[test]
    fn malformed_keys_are_refused() {
        for value in [
            "Bearer pk_abc",
            "Bearer sk_a-b",
            "Basic sk_abc",
            "Bearer",
            "sk_abc",
            "Bearer sk_abc extra",
        ] {
            assert_eq!(
                presented_admin_key(&headers(&[("authorization", value)]), Schemes::Bearer),
                None,
                "{value}"
            );
        }
        assert_eq!(
            presented_admin_key(&HeaderMap::new(), Schemes::Bearer),
            None
        );
        assert_eq!(
            presented_user_key(&headers(&[("userhub-api-key", "pk_ok")])),
            Some("pk_ok")
        );
        assert_eq!(
            presented_user_key(&headers(&[("userhub-api-key", "sk_no")])),
            None
        );
    }
}
