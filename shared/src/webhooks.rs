//! Webhook endpoints: where an organization wants its events, and the secret it verifies with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{error::Error, ids, jobs::EventKind};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub events: Vec<String>,
    /// The signing secret, sealed with the app secret (never stored in the clear).
    pub secret_sealed: String,
    pub created_at: DateTime<Utc>,
}

/// A Standard Webhooks signing secret: `whsec_` and base64 of 24 random bytes.
pub fn new_signing_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Checks the subscription: known event types (all of them when none are named).
pub fn parse_events(list: Option<&str>) -> Result<Vec<String>, Error> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok(EventKind::ALL.iter().map(|k| k.to_string()).collect());
    };
    list.split(',')
        .map(str::trim)
        .map(|e| {
            if EventKind::parse(e).is_some() {
                Ok(e.to_owned())
            } else {
                Err(Error::invalid(
                    "events",
                    format!("unknown event type '{e}'"),
                ))
            }
        })
        .collect()
}

/// Only http(s) URLs with a host; whether the host is private is decided at delivery time.
pub fn check_url(url: &str) -> Result<(), Error> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::invalid("url", "must be an http or https URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid("url", "must be an absolute URL with a host"));
    }
    Ok(())
}

pub fn new_endpoint(
    org_id: &str,
    url: &str,
    events: Vec<String>,
    sealed: String,
    now: DateTime<Utc>,
) -> Endpoint {
    Endpoint {
        id: ids::new("whk"),
        org_id: org_id.into(),
        url: url.into(),
        events,
        secret_sealed: sealed,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_look_like_standard_webhooks_secrets() {
        let s = new_signing_secret();
        assert!(s.starts_with("whsec_"));
        assert_ne!(s, new_signing_secret());
    }

    #[test]
    fn event_lists_are_checked() {
        assert_eq!(parse_events(None).unwrap().len(), EventKind::ALL.len());
        assert_eq!(
            parse_events(Some("flow.assigned, flow.overdue")).unwrap(),
            vec!["flow.assigned", "flow.overdue"]
        );
        assert!(parse_events(Some("flow.nope")).is_err());
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://example.com/hook").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("https:///x").is_err());
        assert!(check_url("https://exa mple.com").is_err());
    }
}
