//! Webhook endpoints: where an organization wants its events, and the secrets it verifies
//! them with. Managed by the organization over the API with its admin key
//! (`/v1/webhooks/endpoints…`) and by operators (`inflowctl webhook`), through the same
//! functions here, so both check the same way.

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    error::{Error, Resource},
    idempotency::Mark,
    ids,
    jobs::{EventKind, Job, Outbox, TestNote},
    model::{EndpointChange, WebhookEndpoint},
    store,
};

/// Endpoints per organization. The webhook worker reads an organization's endpoints with
/// every event it fans out, so their number is a cost of every event; 20 covers a receiver
/// per environment and team with room to spare (Svix and Stripe allow a few dozen).
pub const MAX_ENDPOINTS: u32 = 20;
/// Endpoints of one organization on one host. Each endpoint gets its own copy of every event
/// it subscribes to, so endpoints sharing a host multiply what that host receives: a tenant
/// could point all 20 at someone else's server and turn one import into 100,000 signed POSTs.
/// Three leave room for a receiver per environment on a shared gateway; the worker's own
/// limits bound how many of them run at once (`delivery::limits`).
pub const MAX_ENDPOINTS_PER_HOST: usize = 3;
pub const MAX_URL_CHARS: usize = 2000;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// How long the secret a rotation replaced still signs, beside the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A Standard Webhooks signing secret: `whsec_` and base64 of 24 random bytes.
pub fn new_signing_secret() -> String {
    signing_secret_of(rand::random())
}

fn signing_secret_of(bytes: [u8; 24]) -> String {
    use base64::Engine;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The secret an idempotent request makes: the same on its retries (see `idempotency::Mark`).
fn marked_secret(app: &App, mark: &Mark, purpose: &str) -> String {
    let digest = app.hasher.hash(purpose, mark.as_str());
    let mut bytes = [0u8; 24];
    // A hex HMAC-SHA256 is 64 characters: 32 bytes, of which the first 24 are taken.
    if let Ok(decoded) = hex::decode(&digest[..48]) {
        bytes.copy_from_slice(&decoded);
    }
    signing_secret_of(bytes)
}

fn signing_secret(app: &App, mark: Option<&Mark>, purpose: &str) -> String {
    match mark {
        Some(mark) => marked_secret(app, mark, purpose),
        None => new_signing_secret(),
    }
}

/// Checks a comma-separated subscription (inflowctl): all event types when none are named.
pub fn parse_events(list: Option<&str>) -> Result<Vec<String>, Error> {
    match list.filter(|l| !l.trim().is_empty()) {
        None => Ok(all_events()),
        Some(list) => check_events(list.split(',').map(|e| e.trim().to_owned()).collect()),
    }
}

pub fn all_events() -> Vec<String> {
    EventKind::ALL.iter().map(|k| k.to_string()).collect()
}

/// A subscription: at least one known event type, each once, in the order given.
pub fn check_events(events: Vec<String>) -> Result<Vec<String>, Error> {
    if events.is_empty() {
        return Err(Error::invalid(
            "events",
            "must name at least one event type",
        ));
    }
    let mut checked: Vec<String> = Vec::new();
    for e in events {
        if EventKind::parse(&e).is_none() {
            let shown: String = e.chars().take(64).collect();
            return Err(Error::invalid(
                "events",
                format!("has an unknown event type '{shown}'"),
            ));
        }
        if !checked.contains(&e) {
            checked.push(e);
        }
    }
    Ok(checked)
}

/// Only absolute http(s) URLs with a host and no credentials (they would show wherever the
/// URL shows: lists, deliveries, logs), and, unless local mode allows it, not to a private,
/// loopback or link-local address: the same rule as delivery, checked when the URL is set.
pub async fn check_url(url: &str, allow_private: bool) -> Result<String, Error> {
    let invalid = |reason: &str| Error::invalid("url", reason);
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid("must be at most 2000 characters"));
    }
    let url = url.trim();
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("must be an absolute URL with a host"));
    }
    // The URL parser reads `https:///x` as host `x`; what is set must name its host itself.
    let authority = url.split_once("://").map(|(_, rest)| rest);
    if authority.is_none_or(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#'])) {
        return Err(invalid("must be an absolute URL with a host"));
    }
    let parsed =
        url::Url::parse(url).map_err(|_| invalid("must be an absolute URL with a host"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must be an absolute URL with a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not hold credentials"));
    }
    crate::delivery::target::check_target(&parsed, allow_private)
        .await
        .map_err(invalid)?;
    Ok(url.to_owned())
}

/// Whether `url`'s host has room for one more of the organization's endpoints (`id`'s own
/// place aside): [`MAX_ENDPOINTS_PER_HOST`]. Checked against the endpoints as read, so
/// requests at the same moment can pass it together; the organization's own limit still holds.
fn check_host_room(url: &str, existing: &[WebhookEndpoint], id: &str) -> Result<(), Error> {
    let host = host_of(url);
    let sharing = existing
        .iter()
        .filter(|e| e.id != id && host_of(&e.url) == host)
        .count();
    if sharing >= MAX_ENDPOINTS_PER_HOST {
        return Err(Error::Conflict {
            reason: crate::error::Conflict::HostLimitReached,
            message: format!(
                "An organization has at most {MAX_ENDPOINTS_PER_HOST} webhook endpoints on one host ({}); use one endpoint with several event types",
                host.unwrap_or_default()
            ),
        });
    }
    Ok(())
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| {
        u.host_str()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    })
}

/// A description: one line of up to 500 characters; empty means none.
pub fn check_description(value: &str) -> Result<Option<String>, Error> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    let value = crate::validate::text("description", value, MAX_DESCRIPTION_CHARS)?;
    Ok(Some(value.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// A new endpoint, as asked for.
#[derive(Debug)]
pub struct NewEndpoint {
    pub url: String,
    /// All event types when `None`.
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
}

/// Creates an endpoint; returns it with its signing secret (shown this once). A retry of an
/// idempotent request whose first run wrote the endpoint finds it, and answers with the same
/// secret (derived from the request's mark).
pub async fn create(
    app: &App,
    org_id: &str,
    new: NewEndpoint,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<(WebhookEndpoint, String), Error> {
    let (url, existing) = tokio::join!(
        check_url(&new.url, app.config.allow_private_targets),
        store::webhooks::all(&app.table, org_id)
    );
    let url = url?;
    let id = mark.map_or_else(
        || ids::new(crate::ids::Kind::WebhookEndpoint),
        |m| m.id(&app.hasher, crate::ids::Kind::WebhookEndpoint),
    );
    check_host_room(&url, &existing?, &id)?;
    let events = match new.events {
        Some(events) => check_events(events)?,
        None => all_events(),
    };
    let description = match new.description {
        Some(d) => check_description(&d)?,
        None => None,
    };
    let secret = signing_secret(app, mark, "webhook-secret");
    let endpoint = WebhookEndpoint {
        id,
        org_id: org_id.to_owned(),
        url,
        events,
        description,
        disabled: false,
        secret_sealed: app.sealer.seal(&secret),
        previous_secret_sealed: None,
        previous_until: None,
        created_at: now,
        updated_at: Some(now),
        made_by: mark.map(|m| m.as_str().to_owned()),
        rotated_by: None,
        paused_until: None,
    };
    match store::webhooks::create(&app.table, &endpoint, MAX_ENDPOINTS).await? {
        store::webhooks::Created::Made => Ok((endpoint, secret)),
        store::webhooks::Created::Exists => {
            let existing = get(app, org_id, &endpoint.id).await?;
            match (&existing.made_by, mark) {
                (Some(by), Some(m)) if by == m.as_str() => Ok((existing, secret)),
                _ => Err(Error::internal("an endpoint id was taken")),
            }
        }
        store::webhooks::Created::TooMany => Err(Error::Conflict {
            reason: crate::error::Conflict::LimitReached,
            message: format!(
                "An organization has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"
            ),
        }),
        store::webhooks::Created::NoOrganization => {
            Err(Error::not_found(Resource::Organization, org_id))
        }
    }
}

/// The organization's endpoint `id` (another organization's is not found).
pub async fn get(app: &App, org_id: &str, id: &str) -> Result<WebhookEndpoint, Error> {
    let not_found = || Error::not_found(Resource::WebhookEndpoint, id);
    ids::require(crate::ids::Kind::WebhookEndpoint, id)?;
    store::webhooks::get(&app.table, org_id, id)
        .await?
        .ok_or_else(not_found)
}

/// Every endpoint of the organization, oldest first.
pub async fn list(app: &App, org_id: &str) -> Result<Vec<WebhookEndpoint>, Error> {
    let mut all = store::webhooks::all(&app.table, org_id).await?;
    all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(all)
}

/// Checks and applies a change (one conditional UpdateItem); an empty change reads it.
pub async fn update(
    app: &App,
    org_id: &str,
    id: &str,
    change: EndpointChange,
    now: DateTime<Utc>,
) -> Result<WebhookEndpoint, Error> {
    if change.is_empty() {
        return get(app, org_id, id).await;
    }
    ids::require(crate::ids::Kind::WebhookEndpoint, id)?;
    // Checked, then written in one conditional update: a missing endpoint is found missing
    // there, with no read before it.
    let change = EndpointChange {
        url: match change.url {
            Some(url) => {
                let (url, existing) = tokio::join!(
                    check_url(&url, app.config.allow_private_targets),
                    store::webhooks::all(&app.table, org_id)
                );
                let url = url?;
                check_host_room(&url, &existing?, id)?;
                Some(url)
            }
            None => None,
        },
        events: change.events.map(check_events).transpose()?,
        description: match change.description {
            Some(Some(d)) => Some(check_description(&d)?),
            other => other,
        },
        disabled: change.disabled,
    };
    store::webhooks::update(&app.table, org_id, id, &change, now)
        .await?
        .ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, id))
}

/// Removes an endpoint; its deliveries still pending end failed at their next attempt.
pub async fn remove(app: &App, org_id: &str, id: &str) -> Result<(), Error> {
    ids::require(crate::ids::Kind::WebhookEndpoint, id)?;
    match store::webhooks::delete(&app.table, org_id, id).await? {
        true => Ok(()),
        false => Err(Error::not_found(Resource::WebhookEndpoint, id)),
    }
}

/// A new signing secret. The one it replaces keeps signing, beside it, for
/// [`ROTATION_OVERLAP_HOURS`], so receivers can switch without missing a delivery; a second
/// rotation within that time drops the oldest. Returns the endpoint and the new secret.
pub async fn rotate_secret(
    app: &App,
    org_id: &str,
    id: &str,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<(WebhookEndpoint, String), Error> {
    ids::require(crate::ids::Kind::WebhookEndpoint, id)?;
    let secret = signing_secret(app, mark, "webhook-secret-rotation");
    let until = now + chrono::Duration::hours(ROTATION_OVERLAP_HOURS);
    let sealed = app.sealer.seal(&secret);
    let rotated = store::webhooks::rotate(
        &app.table,
        org_id,
        id,
        &sealed,
        until,
        mark.map(Mark::as_str),
        now,
    )
    .await?;
    match rotated {
        // The first run's answer again (the secret comes from the mark), not a second rotation.
        store::webhooks::Rotated::Now(endpoint) | store::webhooks::Rotated::Already(endpoint) => {
            Ok((endpoint, secret))
        }
        store::webhooks::Rotated::Missing => Err(Error::not_found(Resource::WebhookEndpoint, id)),
    }
}

/// Writes a `webhook.test` event for the endpoint, as its outbox (the relay queues it and the
/// webhook worker delivers it to this endpoint alone). A disabled endpoint is refused: it
/// takes no deliveries. Returns the event's id.
pub async fn send_test(
    app: &App,
    org_id: &str,
    id: &str,
    request_id: &str,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    ids::require(crate::ids::Kind::WebhookEndpoint, id)?;
    let note = TestNote {
        id: mark.map_or_else(
            || ids::new(crate::ids::Kind::Event),
            |m| m.id(&app.hasher, crate::ids::Kind::Event),
        ),
        created_at: now,
        organization_id: org_id.to_owned(),
        request_id: Some(request_id.to_owned()),
        endpoint_id: id.to_owned(),
    };
    let event_id = note.id.clone();
    let outbox = Outbox::new(vec![Job::Test(note)]);
    match store::webhooks::write_test(&app.table, org_id, id, &outbox).await? {
        store::webhooks::Tested::Written => Ok(event_id),
        store::webhooks::Tested::Disabled => Err(Error::Conflict {
            reason: crate::error::Conflict::Disabled,
            message: "The endpoint is disabled; enable it to send it a test event".into(),
        }),
        store::webhooks::Tested::Missing => Err(Error::not_found(Resource::WebhookEndpoint, id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_look_like_standard_webhooks_secrets() {
        let s = new_signing_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(s.len(), "whsec_".len() + 32);
        assert_ne!(s, new_signing_secret());
    }

    #[test]
    fn event_lists_are_checked() {
        assert_eq!(parse_events(None).unwrap().len(), EventKind::ALL.len());
        assert_eq!(
            parse_events(Some("flow.assigned, flow.overdue, flow.assigned")).unwrap(),
            vec!["flow.assigned", "flow.overdue"]
        );
        assert!(parse_events(Some("flow.nope")).is_err());
        assert!(check_events(vec![]).is_err());
        // The test event is sent on request only: nothing subscribes to it.
        assert!(check_events(vec!["webhook.test".into()]).is_err());
    }

    #[tokio::test]
    async fn urls_are_checked() {
        assert!(check_url("https://example.com/hook", false).await.is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", true).await.is_ok());
        for bad in [
            "ftp://example.com",
            "https:///x",
            "https://exa mple.com",
            "https://user:pw@example.com/x",
            "http://127.0.0.1:8080/x",
            "http://10.0.0.7/x",
            "/relative",
        ] {
            match check_url(bad, false).await {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "url", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_rotated_secret_signs_for_its_overlap() {
        let now = Utc::now();
        let mut e = WebhookEndpoint {
            id: "whk_1".into(),
            org_id: "org_1".into(),
            url: "https://example.com".into(),
            events: all_events(),
            description: None,
            disabled: false,
            secret_sealed: "new".into(),
            previous_secret_sealed: Some("old".into()),
            previous_until: Some(now + chrono::Duration::hours(1)),
            created_at: now,
            updated_at: None,
            made_by: None,
            rotated_by: None,
            paused_until: None,
        };
        assert_eq!(e.signing_secrets(now), ["new", "old"]);
        assert_eq!(e.signing_secrets(now + chrono::Duration::hours(2)), ["new"]);
        assert!(e.subscribes_to(EventKind::FlowAssigned));
        e.disabled = true;
        assert!(!e.subscribes_to(EventKind::FlowAssigned));
    }
}
