//! Seeds 003 and 004, invitation flows (UserHub's shapes): the flow object, and errors as
//! `{code, message, reason, param, metadata}`.

use serde_json::{json, Map, Value};

use super::{json_object, opt_string, opt_time, time};
use crate::{
    error::Error,
    invitations::{create::FlowInput, lifecycle::FlowView},
    model::{InvitationKind, Organization, Role, User},
};

pub fn parse_create(kind: InvitationKind, body: &[u8]) -> Result<FlowInput, Error> {
    // UserHub's clients may send no body for a request without fields.
    let map = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        json_object(body)?
    };
    let create_organization = match map.get("createOrganization") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Error::invalid("createOrganization", "must be a boolean")),
    };
    Ok(FlowInput {
        kind: Some(kind),
        organization_id: opt_string(&map, "organizationId")?,
        email: opt_string(&map, "email")?,
        user_id: opt_string(&map, "userId")?,
        display_name: opt_string(&map, "displayName")?,
        role: opt_string(&map, "roleId")?,
        creator_user_id: opt_string(&map, "creatorUserId")?,
        ttl: opt_string(&map, "ttl")?,
        expire_time: opt_string(&map, "expireTime")?,
        create_organization,
    })
}

/// Splits a path segment `<id or secret>:<action>` (percent-decoded first: clients encode
/// reserved characters of an id or secret, but send `:consume` literally).
pub fn split_action(segment: &str) -> Option<(String, String)> {
    let decoded = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    let (id, action) = decoded.rsplit_once(':')?;
    (!id.is_empty()).then(|| (id.to_owned(), action.to_owned()))
}

pub fn flow(view: &FlowView, now: chrono::DateTime<chrono::Utc>, secret: Option<&str>) -> Value {
    let inv = &view.invitation;
    let state = inv.state_at(now);
    let state_reason = match (state, &inv.state_reason) {
        (s, _) if s != inv.state => Some("EXPIRED".to_owned()),
        (_, reason) => reason.clone(),
    };
    let mut body = json!({
        "id": inv.id,
        "state": state.as_str(),
        "stateReason": state_reason,
        "type": match inv.kind {
            InvitationKind::JoinOrganization => "JOIN_ORGANIZATION",
            InvitationKind::Signup => "SIGNUP",
        },
        "organization": organization(&view.organization),
        "user": view.user.as_ref().map(user),
        "creator": view.creator.as_ref().map(user),
        "startTime": opt_time(inv.start_time),
        "expireTime": time(inv.expire_time),
        "ttl": format!("{}s", inv.ttl_secs),
        "createTime": time(inv.create_time),
        "updateTime": time(inv.update_time),
        "invitationId": inv.number,
        "trainingFlowId": inv.flow_id,
    });
    let specific = match inv.kind {
        InvitationKind::JoinOrganization => (
            "joinOrganization",
            json!({"email": inv.email, "displayName": inv.display_name, "role": inv.role.map(role)}),
        ),
        InvitationKind::Signup => (
            "signup",
            json!({"email": inv.email, "displayName": inv.display_name, "createOrganization": inv.create_organization}),
        ),
    };
    body[specific.0] = specific.1;
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    body
}

fn organization(org: &Organization) -> Value {
    json!({
        "id": org.id,
        "uniqueId": org.slug,
        "state": "ACTIVE",
        "displayName": org.name,
        "email": org.email,
        "emailVerified": false,
        "imageUrl": null,
        "address": null,
        "accountConnections": [],
        "subscription": null,
        "signupTime": time(org.created_at),
        "memberCount": org.member_count,
        "disabled": false,
        "createTime": time(org.created_at),
        "updateTime": time(org.created_at),
    })
}

fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "uniqueId": null,
        "state": "ACTIVE",
        "displayName": u.name,
        "email": u.email,
        "emailVerified": false,
        "phoneNumber": null,
        "phoneNumberVerified": false,
        "imageUrl": null,
        "currencyCode": null,
        "languageCode": null,
        "regionCode": null,
        "timeZone": null,
        "address": null,
        "accountConnections": [],
        "subscription": null,
        "memberships": [],
        "disabled": false,
        "signupTime": time(u.created_at),
        "createTime": time(u.created_at),
        "updateTime": time(u.created_at),
    })
}

fn role(r: Role) -> Value {
    let (unique, name) = match r {
        Role::Owner => ("owner", "Owner"),
        Role::Member => ("member", "Member"),
        Role::Guest => ("guest", "Guest"),
    };
    json!({
        "id": format!("role_{unique}"),
        "uniqueId": unique,
        "displayName": name,
        "type": name.to_uppercase(),
        "description": "",
        "permissions": [],
        "isDefault": r == Role::Member,
    })
}

/// The gRPC-style code for an error; the HTTP status comes from the error itself.
fn code(err: &Error) -> &'static str {
    match err {
        Error::Unauthenticated => "UNAUTHENTICATED",
        Error::NotFound { .. } => "NOT_FOUND",
        Error::Invalid { .. } | Error::UnsupportedMediaType | Error::IdempotencyMismatch => {
            "INVALID_ARGUMENT"
        }
        Error::PayloadTooLarge { .. } => "OUT_OF_RANGE",
        Error::FailedPrecondition { .. } => "FAILED_PRECONDITION",
        Error::Conflict { .. } => "ALREADY_EXISTS",
        Error::IdempotencyInFlight => "ABORTED",
        Error::RateLimited { .. } | Error::QuotaExceeded { .. } => "RESOURCE_EXHAUSTED",
        Error::Unavailable { .. } => "UNAVAILABLE",
        Error::Config(_) | Error::Internal { .. } => "INTERNAL",
    }
}

pub fn error_body(err: &Error) -> Value {
    let message = match err {
        Error::Unavailable { .. } => {
            "The service is temporarily unavailable; please retry".to_owned()
        }
        Error::Config(_) | Error::Internal { .. } => "An internal error occurred".to_owned(),
        Error::NotFound { resource, .. } => format!("{} not found.", resource.noun()),
        other => other.to_string(),
    };
    let (reason, param) = match err {
        Error::FailedPrecondition { reason, .. } => (Some(reason.as_str().to_owned()), None),
        Error::Conflict { reason, .. } => (Some(reason.as_str().to_owned()), None),
        Error::Invalid { field, .. } => (None, Some(field.clone())),
        _ => (None, None),
    };
    let mut metadata = Map::new();
    if let Error::RateLimited { retry_after, .. } | Error::QuotaExceeded { retry_after, .. } = err {
        metadata.insert("retryAfter".into(), json!(retry_after.to_string()));
    }
    json!({"code": code(err), "message": message, "reason": reason, "param": param, "metadata": metadata})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Precondition;

    #[test]
    fn actions_are_split_after_decoding() {
        assert_eq!(
            split_action("inv_abc:consume"),
            Some(("inv_abc".into(), "consume".into()))
        );
        assert_eq!(
            split_action("inv_abc%3Aconsume"),
            Some(("inv_abc".into(), "consume".into()))
        );
        assert_eq!(
            split_action("inv_a.b%2Fc:cancel"),
            Some(("inv_a.b/c".into(), "cancel".into()))
        );
        assert_eq!(split_action("inv_abc"), None);
        assert_eq!(split_action(":consume"), None);
        assert_eq!(split_action("%ff:consume"), None);
    }

    #[test]
    fn errors_have_the_seeds_fields() {
        let body = error_body(&Error::FailedPrecondition {
            reason: Precondition::FlowExpired,
            message: "The flow has expired.".into(),
        });
        assert_eq!(
            body,
            json!({"code": "FAILED_PRECONDITION", "message": "The flow has expired.", "reason": "FLOW_EXPIRED", "param": null, "metadata": {}})
        );
        let body = error_body(&Error::invalid("ttl", "must be a duration"));
        assert_eq!(
            (body["code"].as_str(), body["param"].as_str()),
            (Some("INVALID_ARGUMENT"), Some("ttl"))
        );
        assert_eq!(
            error_body(&Error::Unauthenticated)["code"],
            "UNAUTHENTICATED"
        );
    }

    #[test]
    fn create_bodies_are_typed() {
        let r = parse_create(
            InvitationKind::Signup,
            br#"{"email":"a@b.co","createOrganization":true}"#,
        )
        .unwrap();
        assert!(r.create_organization);
        assert!(parse_create(InvitationKind::Signup, br#"{"createOrganization":"yes"}"#).is_err());
        assert!(parse_create(InvitationKind::JoinOrganization, b"").is_ok());
        assert!(parse_create(InvitationKind::JoinOrganization, br#"{"ttl":86400}"#).is_err());
    }
}
