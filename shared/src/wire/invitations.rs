//! Seed 001, invitations of a flow (Flowdock's shapes): integer ids per flow, `pending` /
//! `accepted`, errors as `{"message": …, "errors": {field: [..]}}`.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{json_object, opt_string, req_string};
use crate::{
    error::Error,
    invitations::{create::InviteInput, import::ImportInput},
    model::{Invitation, InvitationState, User},
};

pub fn parse_create(body: &[u8]) -> Result<InviteInput, Error> {
    let map = json_object(body)?;
    Ok(InviteInput {
        email: req_string(&map, "email")?,
        message: opt_string(&map, "message")?,
    })
}

pub fn parse_import(body: &[u8]) -> Result<ImportInput, Error> {
    let map = json_object(body)?;
    Ok(ImportInput {
        list: req_string(&map, "list")?,
        message: opt_string(&map, "message")?,
    })
}

/// Where an invitation lives: `{base}/flows/{org}/{flow}/invitations/{number}`.
pub fn url(base: &str, org_slug: &str, flow_slug: &str, number: u64) -> String {
    format!(
        "{}/flows/{org_slug}/{flow_slug}/invitations/{number}",
        base.trim_end_matches('/')
    )
}

/// An invitation as the seed shows it, plus the id of its invitation flow.
pub fn invitation(inv: &Invitation, base: &str, org_slug: &str) -> Value {
    let number = inv.number.unwrap_or_default();
    let flow_slug = inv.flow_slug.as_deref().unwrap_or_default();
    json!({
        "id": number,
        "state": if inv.state == InvitationState::Completed { "accepted" } else { "pending" },
        "email": inv.email,
        "flow": inv.flow_id,
        "url": url(base, org_slug, flow_slug, number),
        "invitation_flow_id": inv.id,
    })
}

/// A user added to the flow, in the seed's user shape.
pub fn added_user(user: &User) -> Value {
    let email = user.email.to_lowercase();
    let nick = user
        .name
        .clone()
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let millis = user.created_at.timestamp_millis();
    json!({
        "id": user.number,
        "nick": nick,
        "name": user.name.clone().unwrap_or_else(|| nick.clone()),
        "email": user.email,
        "avatar": format!("https://www.gravatar.com/avatar/{}?d=identicon", hex::encode(Sha256::digest(email.as_bytes()))),
        "status": null,
        "disabled": false,
        "last_activity": millis,
        "last_ping": millis,
        "user_id": user.id,
    })
}

pub fn erroneous(entries: &[(String, String)]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|(entry, reason)| json!({ entry: reason }))
            .collect(),
    )
}

pub fn error_body(err: &Error) -> Value {
    let message = match err {
        Error::Invalid { field, reason } => {
            return json!({"message": "Validation error", "errors": { field: [reason] }})
        }
        Error::Unavailable { .. } => {
            "The service is temporarily unavailable; please retry".to_owned()
        }
        Error::Config(_) | Error::Internal { .. } => "An internal error occurred".to_owned(),
        Error::NotFound { resource, .. } => format!("{} not found", resource.noun()),
        other => other.to_string(),
    };
    let mut body = Map::new();
    body.insert("message".into(), json!(message));
    body.insert("errors".into(), json!({}));
    if let Error::RateLimited { retry_after, .. } | Error::QuotaExceeded { retry_after, .. } = err {
        body.insert("retry_after".into(), json!(retry_after));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_have_flowdocks_shape() {
        assert_eq!(
            error_body(&Error::invalid("email", "is invalid")),
            json!({"message": "Validation error", "errors": {"email": ["is invalid"]}})
        );
        let nf = error_body(&Error::not_found(crate::error::Resource::Invitation, "9"));
        assert_eq!(nf, json!({"message": "Invitation not found", "errors": {}}));
    }

    #[test]
    fn urls_are_absolute() {
        assert_eq!(
            url("https://api.example.com/", "acme", "my-flow", 14),
            "https://api.example.com/flows/acme/my-flow/invitations/14"
        );
    }

    #[test]
    fn erroneous_entries_are_single_key_objects() {
        assert_eq!(
            erroneous(&[("test@example.invalid".into(), "Invalid email".into())]),
            json!([{"test@example.invalid": "Invalid email"}])
        );
    }
}
