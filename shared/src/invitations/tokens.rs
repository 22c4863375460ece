//! User access tokens: HS256 JWTs signed with the organization's user-token secret. Their
//! subject is a user id; an `email` claim may name the invitee instead.

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

pub fn mint(
    secret: &str,
    subject: &str,
    email: Option<&str>,
    ttl_secs: i64,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let claims = Claims {
        sub: subject.to_owned(),
        exp: now.timestamp() + ttl_secs,
        email: email.map(str::to_owned),
        iat: Some(now.timestamp()),
    };
    // An empty secret is refused (jsonwebtoken 12); an organization's is never empty.
    let key = EncodingKey::from_secret(secret.as_bytes())
        .map_err(|e| Error::internal_from("token signing", e))?;
    encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| Error::internal_from("token signing", e))
}

/// The claims of a valid, unexpired token signed with `secret`; anything else is unauthenticated.
pub fn verify(secret: &str, token: &str) -> Result<Claims, Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|_| Error::Unauthenticated)?;
    decode::<Claims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| Error::Unauthenticated)
}

/// A token for a user of an organization, named by id or email. An email with no user yet
/// (an invitee) becomes both the subject and the `email` claim.
pub async fn mint_for(
    app: &crate::App,
    org_id: &str,
    user: &str,
    ttl_secs: i64,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let org = crate::store::orgs::get_org(&app.table, org_id).await?;
    let secret = app.sealer.open(&org.user_token_secret_sealed)?;
    let (subject, email) = if user.contains('@') {
        match crate::store::orgs::user_by_email(&app.table, org_id, user).await? {
            Some(found) => (found.id, Some(found.email)),
            None => (user.to_owned(), Some(crate::validate::email("user", user)?)),
        }
    } else {
        let found = crate::store::orgs::get_user(&app.table, org_id, user)
            .await?
            .ok_or_else(|| Error::not_found(crate::error::Resource::User, user))?;
        (found.id, Some(found.email))
    };
    mint(&secret, &subject, email.as_deref(), ttl_secs, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_with_their_secret_only() {
        let now = Utc::now();
        let token = mint("s3cret-s3cret-s3cret", "usr_1", Some("a@b.co"), 600, now).unwrap();
        let claims = verify("s3cret-s3cret-s3cret", &token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.email.as_deref()),
            ("usr_1", Some("a@b.co"))
        );
        assert!(matches!(
            verify("another-secret-here", &token),
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            verify("s3cret-s3cret-s3cret", "not.a.token"),
            Err(Error::Unauthenticated)
        ));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let then = Utc::now() - chrono::Duration::hours(2);
        let token = mint("s3cret-s3cret-s3cret", "usr_1", None, 60, then).unwrap();
        assert!(matches!(
            verify("s3cret-s3cret-s3cret", &token),
            Err(Error::Unauthenticated)
        ));
    }
}
