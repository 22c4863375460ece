//! Wire formats: one module per API family. Only these modules know the seeds' field names.

pub mod assign;
pub mod deliveries;
pub mod events;
pub mod flows;
pub mod invitations;
pub mod organization;
pub mod user_groups;
pub mod webhooks;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::error::Error;

/// The API families; each renders errors in its own seed's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Seed 000: flow assignment.
    Assignment,
    /// Seed 001: invitations of a flow (`{"message": …, "errors": {…}}`).
    Invitations,
    /// Seeds 003, 004: invitation flows (`{code, message, reason, param, metadata}`).
    Flows,
    /// Seed 002: user groups (`{"success": 0, "message": …}`).
    UserGroups,
    /// Inflow's own v1 APIs: webhook endpoints and deliveries, and organization settings. They
    /// extend seed 000's API, so their errors take its shape.
    Inflow,
}

impl Family {
    pub fn error_body(self, err: &Error) -> Value {
        match self {
            Family::Assignment | Family::Inflow => assign::error_body(err),
            Family::Invitations => invitations::error_body(err),
            Family::Flows => flows::error_body(err),
            Family::UserGroups => user_groups::error_body(err),
        }
    }
}

/// Times as the seeds show them: `2024-10-25T15:30:00Z`.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(time(t))).unwrap_or(Value::Null)
}

/// A request body that must be a JSON object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    if body.is_empty() {
        return Err(Error::invalid("body", "is required"));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::invalid("body", "must be UTF-8 encoded JSON"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid("body", "must be a JSON object")),
        Err(_) => Err(Error::invalid("body", "is not valid JSON")),
    }
}

/// An optional string field; `null` counts as absent, any other type is an error naming it.
pub fn opt_string(map: &Map<String, Value>, field: &str) -> Result<Option<String>, Error> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid(field, "must be a string")),
    }
}

pub fn req_string(map: &Map<String, Value>, field: &str) -> Result<String, Error> {
    opt_string(map, field)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Error::invalid(field, "is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(json_object(b"{}").is_ok());
        for bad in [&b""[..], b"[]", b"null", b"{", b"\xff\xfe", b"\"x\""] {
            assert!(
                matches!(json_object(bad), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn string_fields_are_typed() {
        let map = json_object(br#"{"a":"x","b":null,"c":3,"d":"  "}"#).unwrap();
        assert_eq!(opt_string(&map, "a").unwrap().as_deref(), Some("x"));
        assert_eq!(opt_string(&map, "b").unwrap(), None);
        assert_eq!(opt_string(&map, "zz").unwrap(), None);
        assert!(opt_string(&map, "c").is_err());
        assert!(req_string(&map, "b").is_err());
        assert!(req_string(&map, "d").is_err());
    }
}
