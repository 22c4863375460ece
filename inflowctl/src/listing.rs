//! `key list` and `org list`: reads no request path needs, so the domain crate has no query for
//! them. The item layouts are shared/src/store's (its module docs have the table of them); the
//! tests in inflowctl/tests create keys and organizations through the domain crate and list them
//! here, so a change of layout there fails them.

use aws_sdk_dynamodb::types::AttributeValue;
use inflow::{model::Organization, App, Error};
use serde::Serialize;
use serde_json::Value;

type Item = std::collections::HashMap<String, AttributeValue>;

/// A key as an operator sees it: never the key, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub kind: String,
    pub tier: String,
    pub created_at: String,
    pub revoked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn key_view(item: &Item) -> KeyView {
    let revoked_at = text(item, "revoked_at");
    KeyView {
        id: text(item, "key_id").unwrap_or_default(),
        kind: text(item, "kind").unwrap_or_default(),
        tier: text(item, "tier").unwrap_or_default(),
        created_at: text(item, "created_at").unwrap_or_default(),
        revoked: revoked_at.is_some(),
        revoked_at,
    }
}

/// An organization's keys, oldest id first (ids sort by time): one query on GSI1
/// (`KEYS#<org>`), paged. An unknown organization is NOT_FOUND, not an empty list.
pub async fn keys(app: &App, org_id: &str) -> Result<Vec<KeyView>, Error> {
    inflow::org_settings::get(app, org_id).await?;
    let mut pages = app
        .table
        .client()
        .query()
        .table_name(&app.config.table_name)
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("KEYS#{org_id}")))
        .into_paginator()
        .items()
        .send();
    let mut keys = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item?;
        keys.push(key_view(&item));
    }
    Ok(keys)
}

/// Every organization, by slug, as `org get` shows one. A Scan of the table filtered to the
/// organization items: an operator's occasional read, whose cost grows with the whole table
/// (no request path scans; no index lists organizations, and none is kept for this).
pub async fn orgs(app: &App) -> Result<Vec<Value>, Error> {
    let mut pages = app
        .table
        .client()
        .scan()
        .table_name(&app.config.table_name)
        .filter_expression("SK = :org AND begins_with(PK, :prefix)")
        .expression_attribute_values(":org", AttributeValue::S("ORG".into()))
        .expression_attribute_values(":prefix", AttributeValue::S("ORG#".into()))
        .into_paginator()
        .items()
        .send();
    let mut found: Vec<Organization> = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item?;
        found.push(serde_dynamo::from_item(item)?);
    }
    found.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(found
        .iter()
        .map(inflow::wire::organization::organization)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_view_shows_revocation_and_never_the_hash() {
        let item = Item::from([
            ("PK".into(), AttributeValue::S("KEY#abc123".into())),
            ("key_id".into(), AttributeValue::S("key_1".into())),
            ("kind".into(), AttributeValue::S("admin".into())),
            ("tier".into(), AttributeValue::S("standard".into())),
            (
                "created_at".into(),
                AttributeValue::S("2026-01-01T00:00:00Z".into()),
            ),
            (
                "revoked_at".into(),
                AttributeValue::S("2026-01-02T00:00:00Z".into()),
            ),
        ]);
        let view = key_view(&item);
        assert!(view.revoked);
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("abc123"), "{json}");
        assert!(json.contains("\"revokedAt\""), "{json}");
    }
}
