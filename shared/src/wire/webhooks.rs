//! `/v1/webhooks/endpoints…` (seed 000's family: camelCase fields, its error shape).

use serde_json::{json, Map, Value};

use super::{json_object, opt_string, req_string, time};
use crate::{
    error::Error,
    model::{EndpointChange, WebhookEndpoint},
    webhooks::NewEndpoint,
};

/// `{url, events?, description?}`; `events` absent or `null` subscribes to every event type.
pub fn parse_create(body: &[u8]) -> Result<NewEndpoint, Error> {
    let map = json_object(body)?;
    Ok(NewEndpoint {
        url: req_string(&map, "url")?,
        events: match map.get("events") {
            None | Some(Value::Null) => None,
            Some(_) => Some(events(&map)?),
        },
        description: opt_string(&map, "description")?,
    })
}

/// `{url?, events?, description?, disabled?}`: absent fields stay; `description: null` removes it.
pub fn parse_update(body: &[u8]) -> Result<EndpointChange, Error> {
    let map = json_object(body)?;
    Ok(EndpointChange {
        url: match map.get("url") {
            None => None,
            Some(Value::String(url)) => Some(url.clone()),
            Some(_) => return Err(Error::invalid("url", "must be a string")),
        },
        events: match map.get("events") {
            None => None,
            Some(_) => Some(events(&map)?),
        },
        description: match map.get("description") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(d)) => Some(Some(d.clone())),
            Some(_) => return Err(Error::invalid("description", "must be a string or null")),
        },
        disabled: match map.get("disabled") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(Error::invalid("disabled", "must be a boolean")),
        },
    })
}

fn events(map: &Map<String, Value>) -> Result<Vec<String>, Error> {
    let invalid = || Error::invalid("events", "must be an array of event types");
    match map.get("events") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid))
            .collect(),
        _ => Err(invalid()),
    }
}

/// An endpoint as its organization sees it (never its secret).
pub fn endpoint(e: &WebhookEndpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "description": e.description,
        "disabled": e.disabled,
        "createdAt": time(e.created_at),
        "updatedAt": time(e.updated_at.unwrap_or(e.created_at)),
    })
}

/// The created endpoint, with its signing secret (shown this once).
pub fn created(e: &WebhookEndpoint, secret: &str) -> Value {
    let mut body = endpoint(e);
    body["secret"] = json!(secret);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_bodies_are_typed() {
        let new = parse_create(br#"{"url":"https://a.example/h","events":null}"#).unwrap();
        assert_eq!(
            (new.url.as_str(), new.events),
            ("https://a.example/h", None)
        );
        let new = parse_create(br#"{"url":"u","events":["flow.assigned"]}"#).unwrap();
        assert_eq!(new.events, Some(vec!["flow.assigned".to_owned()]));
        assert_eq!(field_of(parse_create(br#"{"events":[]}"#)), "url");
        assert_eq!(
            field_of(parse_create(br#"{"url":"u","events":"flow.assigned"}"#)),
            "events"
        );
        assert_eq!(
            field_of(parse_create(br#"{"url":"u","events":[1]}"#)),
            "events"
        );
        assert_eq!(
            field_of(parse_create(br#"{"url":"u","description":1}"#)),
            "description"
        );
    }

    #[test]
    fn update_bodies_tell_absent_from_null() {
        let change = parse_update(br#"{"description":null,"disabled":true}"#).unwrap();
        assert_eq!(change.description, Some(None));
        assert_eq!(change.disabled, Some(true));
        assert!(change.url.is_none() && change.events.is_none());
        assert!(parse_update(b"{}").unwrap().is_empty());
        assert_eq!(field_of(parse_update(br#"{"url":null}"#)), "url");
        assert_eq!(field_of(parse_update(br#"{"events":null}"#)), "events");
        assert_eq!(field_of(parse_update(br#"{"disabled":"yes"}"#)), "disabled");
    }
}
