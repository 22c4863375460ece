//! Operator actions (used by `inflowctl` and the tests): organizations, keys, users, flows,
//! webhook endpoints. Each validates its input like a request would.

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    error::Error,
    ids,
    keys::{KeyKind, PlainKey},
    model::{Flow, Organization, Role, Tier, User, WebhookEndpoint},
    store, validate, webhooks,
};

/// A key as shown once, at creation.
#[derive(Debug)]
pub struct IssuedKey {
    pub id: String,
    pub kind: KeyKind,
    pub key: PlainKey,
}

pub struct NewOrg<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub email: Option<&'a str>,
    pub tier: Tier,
}

/// Creates an organization with one admin key and one user key.
pub async fn create_org(
    app: &App,
    new: NewOrg<'_>,
    now: DateTime<Utc>,
) -> Result<(Organization, IssuedKey, IssuedKey), Error> {
    let org = Organization {
        id: ids::new(crate::ids::Kind::Organization),
        slug: validate::slug("slug", new.slug)?,
        name: validate::label("name", new.name, 200)?,
        email: new.email.map(|e| validate::email("email", e)).transpose()?,
        tier: new.tier,
        created_at: now,
        member_count: 0,
        user_token_secret_sealed: app.sealer.seal(&crate::ids::random(48)),
        invitation_ttl_secs: None,
        accept_url_template: None,
        updated_at: None,
    };
    store::orgs::create_org(&app.table, &org).await?;
    let admin = issue_key(app, &org, KeyKind::Admin, now).await?;
    let user = issue_key(app, &org, KeyKind::User, now).await?;
    Ok((org, admin, user))
}

pub async fn create_key(
    app: &App,
    org_id: &str,
    kind: KeyKind,
    now: DateTime<Utc>,
) -> Result<IssuedKey, Error> {
    let org = store::orgs::get_org(&app.table, org_id).await?;
    issue_key(app, &org, kind, now).await
}

async fn issue_key(
    app: &App,
    org: &Organization,
    kind: KeyKind,
    now: DateTime<Utc>,
) -> Result<IssuedKey, Error> {
    let key = PlainKey::generate(kind);
    let id = ids::new(crate::ids::Kind::Key);
    let hash = app.hasher.hash_api_key(key.expose());
    let new = store::keys::NewKey {
        hash: &hash,
        key_id: &id,
        org_id: &org.id,
        org_slug: &org.slug,
        kind,
        tier: org.tier,
        now,
    };
    store::keys::put(&app.table, new).await?;
    Ok(IssuedKey { id, kind, key })
}

pub async fn revoke_key(
    app: &App,
    org_id: &str,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    store::keys::revoke(&app.table, org_id, key_id, now).await
}

pub use crate::store::keys::KeyRecord;

/// An organization's keys, oldest first (never a key, nor its hash). An unknown organization is
/// NOT_FOUND, not an empty list.
pub async fn keys(app: &App, org_id: &str) -> Result<Vec<store::keys::KeyRecord>, Error> {
    crate::org_settings::get(app, org_id).await?;
    store::keys::of_org(&app.table, org_id).await
}

/// Every organization, by slug (a Scan: see `store::orgs::all`).
pub async fn organizations(app: &App) -> Result<Vec<Organization>, Error> {
    let mut found = store::orgs::all(&app.table).await?;
    found.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(found)
}

/// Raises or lowers an organization's tier; its keys' limits follow at once.
pub async fn set_tier(app: &App, org_id: &str, tier: Tier) -> Result<usize, Error> {
    store::orgs::set_org_tier(&app.table, org_id, tier).await?;
    store::keys::set_tier(&app.table, org_id, tier).await
}

pub async fn create_user(
    app: &App,
    org_id: &str,
    email: &str,
    name: Option<&str>,
    role: Role,
    now: DateTime<Utc>,
) -> Result<User, Error> {
    store::orgs::get_org(&app.table, org_id).await?;
    let number = store::counters::reserve(&app.table, org_id, "user", 1).await?;
    let user = User {
        id: ids::new(crate::ids::Kind::User),
        org_id: org_id.to_owned(),
        number,
        email: validate::email("email", email)?,
        name: name.map(|n| validate::label("name", n, 200)).transpose()?,
        role,
        created_at: now,
    };
    store::orgs::create_user(&app.table, &user).await?;
    Ok(user)
}

pub struct NewFlow<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub module_count: u32,
    pub estimated_duration: &'a str,
}

pub async fn create_flow(
    app: &App,
    org_id: &str,
    new: NewFlow<'_>,
    now: DateTime<Utc>,
) -> Result<Flow, Error> {
    store::orgs::get_org(&app.table, org_id).await?;
    let flow = Flow {
        id: ids::new(crate::ids::Kind::Flow),
        org_id: org_id.to_owned(),
        slug: validate::slug("slug", new.slug)?,
        name: validate::label("name", new.name, 200)?,
        module_count: new.module_count,
        estimated_duration: validate::label("estimated-duration", new.estimated_duration, 100)?,
        created_at: now,
    };
    store::orgs::create_flow(&app.table, &flow).await?;
    Ok(flow)
}

/// Subscribes a URL to events (all when none are named); returns the endpoint and its signing
/// secret (shown once). The same checks and limit as `POST /v1/webhooks/endpoints`.
pub async fn add_webhook(
    app: &App,
    org_id: &str,
    url: &str,
    events: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(WebhookEndpoint, String), Error> {
    let new = webhooks::NewEndpoint {
        url: url.to_owned(),
        events: Some(webhooks::parse_events(events)?),
        description: None,
    };
    webhooks::create(app, org_id, new, None, now).await
}
