//! `key list` and `org list`: the operator's reads (`inflow::operator::keys`, `organizations`),
//! shown as an operator sees them. The table's layout stays the domain crate's.

use inflow::{
    operator::{self, KeyRecord},
    App, Error,
};
use serde::Serialize;
use serde_json::Value;

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

fn key_view(k: KeyRecord) -> KeyView {
    KeyView {
        id: k.id,
        kind: k.kind,
        tier: k.tier,
        created_at: k.created_at,
        revoked: k.revoked_at.is_some(),
        revoked_at: k.revoked_at,
    }
}

/// An organization's keys, oldest id first. An unknown organization is NOT_FOUND, not an
/// empty list.
pub async fn keys(app: &App, org_id: &str) -> Result<Vec<KeyView>, Error> {
    Ok(operator::keys(app, org_id)
        .await?
        .into_iter()
        .map(key_view)
        .collect())
}

/// Every organization, by slug, as `org get` shows one.
pub async fn orgs(app: &App) -> Result<Vec<Value>, Error> {
    Ok(operator::organizations(app)
        .await?
        .iter()
        .map(inflow::views::organization)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_view_shows_revocation() {
        let view = key_view(KeyRecord {
            id: "key_1".into(),
            kind: "admin".into(),
            tier: "standard".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: Some("2026-01-02T00:00:00Z".into()),
        });
        assert!(view.revoked);
        let json = serde_json::to_string(&view).unwrap();
        assert!(json.contains("\"revokedAt\""), "{json}");
    }
}
