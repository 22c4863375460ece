//! Failed webhook deliveries as a product feature: list them, replay one.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use crate::{
    app::App,
    auth::Schemes,
    delivery,
    error::{Error, Resource},
    http::{serve, Auth, Endpoint, Reply},
    model::delivery::{Delivery, DeliveryStatus},
    store,
    wire::{opt_time, time, Family},
};

const fn endpoint(name: &'static str) -> Endpoint {
    Endpoint {
        name,
        family: Family::Assignment,
        auth: Auth::Admin(Schemes::Bearer),
        idempotent: false,
        json_body: false,
    }
}

fn view(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.event_type,
        "endpointId": d.endpoint_id,
        "url": d.url,
        "status": d.status.as_str(),
        "attemptCount": d.attempts.len(),
        "attempts": d.attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "at": time(a.at),
            "latencyMs": a.latency_ms,
            "responseStatus": a.response_status,
            "error": a.error,
        })).collect::<Vec<_>>(),
        "createdAt": time(d.created_at),
        "updatedAt": time(d.updated_at),
        "nextAttemptAt": opt_time(d.next_attempt_at),
    })
}

/// `GET /v1/webhooks/deliveries?status=failed|pending|delivered&limit=1-100`
pub async fn list_webhook_deliveries(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &endpoint("list-webhook-deliveries"),
        |ctx| async move {
            let status = match ctx.query("status") {
                None => DeliveryStatus::Failed,
                Some(s) => DeliveryStatus::parse(&s).ok_or_else(|| {
                    Error::invalid("status", "must be failed, pending or delivered")
                })?,
            };
            let limit = match ctx.query("limit") {
                None => 100,
                Some(l) => l
                    .parse()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| Error::invalid("limit", "must be 1-100"))?,
            };
            let found =
                store::deliveries::by_status(&ctx.app.table, &ctx.caller.org_id, status, limit)
                    .await?;
            Ok(Reply::json(
                200,
                json!({"deliveries": found.iter().map(view).collect::<Vec<_>>()}),
            ))
        },
    )
    .await
}

/// `POST /v1/webhooks/deliveries/{deliveryId}/replay`: 202, the delivery pending again.
pub async fn replay_webhook_delivery(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &endpoint("replay-webhook-delivery"),
        |ctx| async move {
            let id = ctx
                .path_param("deliveryId")
                .ok_or_else(|| Error::not_found(Resource::Delivery, ""))?;
            let d = delivery::replay(ctx.app, &ctx.caller.org_id, &id, ctx.now).await?;
            Ok(Reply::json(202, json!({"delivery": view(&d)})))
        },
    )
    .await
}
