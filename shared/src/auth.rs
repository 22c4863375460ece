//! Reading the caller's key from the request and authenticating it (with its rate limit).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::{
    app::App, error::Error, keys::KeyKind, model::Caller, ratelimit::RateState, refusals::Refusals,
    store,
};

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
    let (scheme, key) = authorization(headers)?;
    let accepted = scheme.eq_ignore_ascii_case("bearer")
        || (schemes == Schemes::BearerOrToken && scheme.eq_ignore_ascii_case("token"));
    (accepted && well_formed(key, KeyKind::Admin)).then_some(key)
}

/// The credentials of `Authorization: Bearer …` (the scheme in any case), unchecked: the user
/// access token that proves an invitee on consume.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = authorization(headers)?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// `Authorization`'s scheme and credentials (RFC 9110: the scheme is case-insensitive).
fn authorization(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, credentials) = value.split_once(' ')?;
    Some((scheme, credentials.trim()))
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
    REFUSED.holds(hash, Instant::now()).is_some()
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
        let now = Instant::now();
        REFUSED.remember(hash, now + REFUSED_FOR, now);
    }
    result
}

/// Hashes of keys refused lately, per container.
static REFUSED: Refusals = Refusals::new();

/// How long a refused key stays refused without a read: short, so that a key made meanwhile
/// cannot be refused for long (keys are random, so that needs a hash collision anyway).
const REFUSED_FOR: Duration = Duration::from_secs(60);

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
    fn a_bearer_token_is_read_in_any_case() {
        let h = headers(&[("authorization", "BEARER  eyJ.a.b ")]);
        assert_eq!(bearer(&h), Some("eyJ.a.b"));
        assert_eq!(bearer(&headers(&[("authorization", "Token eyJ")])), None);
        assert_eq!(bearer(&headers(&[])), None);
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
