//! Webhook endpoints over the API, with the organization's admin key (seed 000's error shape):
//! create, list, get, update, delete, rotate the signing secret, send a test event.

use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::entry;
use crate::{
    app::App,
    auth::Schemes,
    error::{Error, Resource},
    http::{serve, Auth, Ctx, Endpoint, Reply},
    webhooks,
    wire::{opt_time, webhooks as wire, Family},
};

fn endpoint_id(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.path_param("endpointId")
        .ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, ""))
}

/// `POST /v1/webhooks/endpoints`: 201, the endpoint with its secret (shown this once).
async fn create_webhook_endpoint(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let new = wire::parse_create(ctx.body())?;
        let (e, secret) =
            webhooks::create(ctx.app, &ctx.caller.org_id, new, ctx.mark.as_ref(), ctx.now).await?;
        Ok(Reply::json(201, wire::created(&e, &secret)))
    })
    .await
}

/// `GET /v1/webhooks/endpoints`: `{"endpoints": [...]}`, oldest first.
async fn list_webhook_endpoints(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let all = webhooks::list(ctx.app, &ctx.caller.org_id).await?;
        let views: Vec<_> = all.iter().map(wire::endpoint).collect();
        Ok(Reply::json(200, json!({ "endpoints": views })))
    })
    .await
}

/// `GET /v1/webhooks/endpoints/{endpointId}`
async fn get_webhook_endpoint(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let e = webhooks::get(ctx.app, &ctx.caller.org_id, &endpoint_id(&ctx)?).await?;
        Ok(Reply::json(200, wire::endpoint(&e)))
    })
    .await
}

/// `PATCH /v1/webhooks/endpoints/{endpointId}` with `{url?, events?, description?, disabled?}`.
async fn update_webhook_endpoint(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let change = wire::parse_update(ctx.body())?;
        let id = endpoint_id(&ctx)?;
        let e = webhooks::update(ctx.app, &ctx.caller.org_id, &id, change, ctx.now).await?;
        Ok(Reply::json(200, wire::endpoint(&e)))
    })
    .await
}

/// `DELETE /v1/webhooks/endpoints/{endpointId}`: 204 with no body.
async fn delete_webhook_endpoint(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        webhooks::remove(ctx.app, &ctx.caller.org_id, &endpoint_id(&ctx)?).await?;
        Ok(Reply::no_content())
    })
    .await
}

/// `POST /v1/webhooks/endpoints/{endpointId}/rotate-secret`: `{secret, previousSecretExpiresAt}`.
async fn rotate_webhook_endpoint_secret(
    app: &App,
    req: Request,
    endpoint: &Endpoint,
) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let id = endpoint_id(&ctx)?;
        let (e, secret) =
            webhooks::rotate_secret(ctx.app, &ctx.caller.org_id, &id, ctx.mark.as_ref(), ctx.now)
                .await?;
        Ok(Reply::json(
            200,
            json!({"secret": secret, "previousSecretExpiresAt": opt_time(e.previous_until)}),
        ))
    })
    .await
}

/// `POST /v1/webhooks/endpoints/{endpointId}/test`: 202 `{eventId}`; a `webhook.test` event
/// goes to this endpoint through the normal delivery path.
async fn test_webhook_endpoint(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let id = endpoint_id(&ctx)?;
        let event_id = webhooks::send_test(
            ctx.app,
            &ctx.caller.org_id,
            &id,
            &ctx.request_id,
            ctx.mark.as_ref(),
            ctx.now,
        )
        .await?;
        Ok(Reply::json(202, json!({ "eventId": event_id })))
    })
    .await
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const CREATE_WEBHOOK_ENDPOINT: Endpoint = entry!(
        "create-webhook-endpoint",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/webhooks/endpoints")],
        create_webhook_endpoint
    )
    .idempotent()
    .json_body();
    pub const LIST_WEBHOOK_ENDPOINTS: Endpoint = entry!(
        "list-webhook-endpoints",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/v1/webhooks/endpoints")],
        list_webhook_endpoints
    );
    pub const GET_WEBHOOK_ENDPOINT: Endpoint = entry!(
        "get-webhook-endpoint",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/v1/webhooks/endpoints/{endpointId}")],
        get_webhook_endpoint
    );
    pub const UPDATE_WEBHOOK_ENDPOINT: Endpoint = entry!(
        "update-webhook-endpoint",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("PATCH", "/v1/webhooks/endpoints/{endpointId}")],
        update_webhook_endpoint
    )
    .json_body();
    pub const DELETE_WEBHOOK_ENDPOINT: Endpoint = entry!(
        "delete-webhook-endpoint",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("DELETE", "/v1/webhooks/endpoints/{endpointId}")],
        delete_webhook_endpoint
    );
    pub const ROTATE_WEBHOOK_ENDPOINT_SECRET: Endpoint = entry!(
        "rotate-webhook-endpoint-secret",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/webhooks/endpoints/{endpointId}/rotate-secret")],
        rotate_webhook_endpoint_secret
    )
    .idempotent();
    pub const TEST_WEBHOOK_ENDPOINT: Endpoint = entry!(
        "test-webhook-endpoint",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/webhooks/endpoints/{endpointId}/test")],
        test_webhook_endpoint
    )
    .idempotent();
}

pub(super) const ENDPOINTS: &[Endpoint] = &[
    endpoints::CREATE_WEBHOOK_ENDPOINT,
    endpoints::LIST_WEBHOOK_ENDPOINTS,
    endpoints::GET_WEBHOOK_ENDPOINT,
    endpoints::UPDATE_WEBHOOK_ENDPOINT,
    endpoints::DELETE_WEBHOOK_ENDPOINT,
    endpoints::ROTATE_WEBHOOK_ENDPOINT_SECRET,
    endpoints::TEST_WEBHOOK_ENDPOINT,
];
