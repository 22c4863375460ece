//! `GET` / `PATCH /v1/organization` (seed 000's family: camelCase fields, its error shape).

use serde_json::{json, Map, Value};

use super::{json_object, opt_time, time};
use crate::{
    error::Error,
    model::{Change, Organization},
    org_settings::SettingsInput,
};

/// A `PATCH` body: absent fields are left alone, `null` resets a setting to its default.
pub fn parse_settings(body: &[u8]) -> Result<SettingsInput, Error> {
    let map = json_object(body)?;
    let name = match change(&map, "name")? {
        Change::Keep => None,
        Change::Set(name) => Some(name),
        Change::Clear => return Err(Error::invalid("name", "must be a string")),
    };
    Ok(SettingsInput {
        name,
        accept_url_template: change(&map, "acceptUrlTemplate")?,
        invitation_ttl: change(&map, "invitationTtl")?,
    })
}

/// A string field of a partial update.
pub fn change(map: &Map<String, Value>, field: &str) -> Result<Change<String>, Error> {
    match map.get(field) {
        None => Ok(Change::Keep),
        Some(Value::Null) => Ok(Change::Clear),
        Some(Value::String(s)) => Ok(Change::Set(s.clone())),
        Some(_) => Err(Error::invalid(field, "must be a string or null")),
    }
}

/// The organization as its admin sees it; `null` settings take the stack's defaults (the
/// hosted accept page, 30 days).
pub fn organization(org: &Organization) -> Value {
    json!({
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "email": org.email,
        "tier": org.tier,
        "acceptUrlTemplate": org.accept_url_template,
        "invitationTtl": org.invitation_ttl_secs.map(|s| format!("{s}s")),
        "createdAt": time(org.created_at),
        "updatedAt": opt_time(org.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_null_and_set_are_told_apart() {
        let input = parse_settings(br#"{"acceptUrlTemplate":null,"invitationTtl":"60s"}"#).unwrap();
        assert_eq!(input.name, None);
        assert_eq!(input.accept_url_template, Change::Clear);
        assert_eq!(input.invitation_ttl, Change::Set("60s".into()));
        for (body, field) in [
            (&br#"{"name":null}"#[..], "name"),
            (br#"{"name":5}"#, "name"),
            (br#"{"invitationTtl":86400}"#, "invitationTtl"),
            (br#"{"acceptUrlTemplate":["x"]}"#, "acceptUrlTemplate"),
        ] {
            match parse_settings(body) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
