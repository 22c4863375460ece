//! Webhook endpoints over the API, with the organization's admin key (seed 000's error shape):
//! create, list, get, update, delete, rotate the signing secret, send a test event.

use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::{
    app::App,
    auth::Schemes,
    error::{Error, Resource},
    http::{serve, Auth, Ctx, Reply, Route},
    webhooks,
    wire::{opt_time, webhooks as wire, Family},
};

const fn route(name: &'static str) -> Route {
    Route::new(name, Family::Webhooks, Auth::Admin(Schemes::Bearer))
}

fn endpoint_id(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.path_param("endpointId")
        .ok_or_else(|| Error::not_found(Resource::WebhookEndpoint, ""))
}

/// `POST /v1/webhooks/endpoints`: 201, the endpoint with its secret (shown this once).
pub async fn create_webhook_endpoint(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("create-webhook-endpoint").idempotent().json_body(),
        |ctx| async move {
            let new = wire::parse_create(ctx.body())?;
            let (e, secret) =
                webhooks::create(ctx.app, &ctx.caller.org_id, new, ctx.mark.as_ref(), ctx.now)
                    .await?;
            Ok(Reply::json(201, wire::created(&e, &secret)))
        },
    )
    .await
}

/// `GET /v1/webhooks/endpoints`: `{"endpoints": [...]}`, oldest first.
pub async fn list_webhook_endpoints(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("list-webhook-endpoints"),
        |ctx| async move {
            let all = webhooks::list(ctx.app, &ctx.caller.org_id).await?;
            let views: Vec<_> = all.iter().map(wire::endpoint).collect();
            Ok(Reply::json(200, json!({ "endpoints": views })))
        },
    )
    .await
}

/// `GET /v1/webhooks/endpoints/{endpointId}`
pub async fn get_webhook_endpoint(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("get-webhook-endpoint"), |ctx| async move {
        let e = webhooks::get(ctx.app, &ctx.caller.org_id, &endpoint_id(&ctx)?).await?;
        Ok(Reply::json(200, wire::endpoint(&e)))
    })
    .await
}

/// `PATCH /v1/webhooks/endpoints/{endpointId}` with `{url?, events?, description?, disabled?}`.
pub async fn update_webhook_endpoint(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("update-webhook-endpoint").json_body(),
        |ctx| async move {
            let change = wire::parse_update(ctx.body())?;
            let id = endpoint_id(&ctx)?;
            let e = webhooks::update(ctx.app, &ctx.caller.org_id, &id, change, ctx.now).await?;
            Ok(Reply::json(200, wire::endpoint(&e)))
        },
    )
    .await
}

/// `DELETE /v1/webhooks/endpoints/{endpointId}`: 204 with no body.
pub async fn delete_webhook_endpoint(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("delete-webhook-endpoint"),
        |ctx| async move {
            webhooks::remove(ctx.app, &ctx.caller.org_id, &endpoint_id(&ctx)?).await?;
            Ok(Reply::no_content())
        },
    )
    .await
}

/// `POST /v1/webhooks/endpoints/{endpointId}/rotate-secret`: `{secret, previousSecretExpiresAt}`.
pub async fn rotate_webhook_endpoint_secret(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("rotate-webhook-endpoint-secret").idempotent(),
        |ctx| async move {
            let id = endpoint_id(&ctx)?;
            let (e, secret) = webhooks::rotate_secret(
                ctx.app,
                &ctx.caller.org_id,
                &id,
                ctx.mark.as_ref(),
                ctx.now,
            )
            .await?;
            Ok(Reply::json(
                200,
                json!({"secret": secret, "previousSecretExpiresAt": opt_time(e.previous_until)}),
            ))
        },
    )
    .await
}

/// `POST /v1/webhooks/endpoints/{endpointId}/test`: 202 `{eventId}`; a `webhook.test` event
/// goes to this endpoint through the normal delivery path.
pub async fn test_webhook_endpoint(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("test-webhook-endpoint").idempotent(),
        |ctx| async move {
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
        },
    )
    .await
}
