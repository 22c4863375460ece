//! The API's JSON of a record, for the operator's command line: `inflowctl org get` shows an
//! organization, and `webhook list` its endpoints, exactly as `GET /v1/organization` and
//! `GET /v1/webhooks/endpoints` do. The wire layer itself stays private to this crate.

use serde_json::Value;

use crate::{
    model::{Organization, WebhookEndpoint},
    wire,
};

pub fn organization(org: &Organization) -> Value {
    wire::organization::organization(org)
}

pub fn webhook_endpoint(endpoint: &WebhookEndpoint) -> Value {
    wire::webhooks::endpoint(endpoint)
}
