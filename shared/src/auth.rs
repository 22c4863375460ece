//! Reading the caller's key from the request and authenticating it (with its rate limit).

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

/// Authenticates a presented key and counts the request against its rate limit.
pub async fn authenticate(
    app: &App,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(Caller, RateState), Error> {
    let hash = app.hasher.hash_api_key(key);
    store::keys::authorize(&app.ddb, &app.config.table_name, &hash, now).await
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
