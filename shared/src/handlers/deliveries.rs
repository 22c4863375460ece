//! Failed webhook deliveries as a product feature: list them, replay one.

use lambda_http::{Body, Request, Response};

use super::entry;
use crate::{
    app::App,
    auth::Schemes,
    delivery,
    error::{Error, Resource},
    http::{serve, Auth, Endpoint, Reply},
    wire::{deliveries as wire, Family},
};

/// `GET /v1/webhooks/deliveries?status=failed|pending|delivered&limit=1-100`
async fn list_webhook_deliveries(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let (status, limit) = wire::parse_list(
            ctx.query("status").as_deref(),
            ctx.query("limit").as_deref(),
        )?;
        let found = delivery::list(ctx.app, &ctx.caller.org_id, status, limit).await?;
        Ok(Reply::json(200, wire::list(&found)))
    })
    .await
}

/// `POST /v1/webhooks/deliveries/{deliveryId}/replay`: 202, the delivery pending again.
async fn replay_webhook_delivery(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let id = ctx
            .path_param("deliveryId")
            .ok_or_else(|| Error::not_found(Resource::Delivery, ""))?;
        let d = delivery::replay(ctx.app, &ctx.caller.org_id, &id, ctx.now).await?;
        Ok(Reply::json(202, wire::replayed(&d)))
    })
    .await
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const LIST_WEBHOOK_DELIVERIES: Endpoint = entry!(
        "list-webhook-deliveries",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/v1/webhooks/deliveries")],
        list_webhook_deliveries
    );
    pub const REPLAY_WEBHOOK_DELIVERY: Endpoint = entry!(
        "replay-webhook-delivery",
        Family::Inflow,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/webhooks/deliveries/{deliveryId}/replay")],
        replay_webhook_delivery
    );
}

pub(super) const ENDPOINTS: &[Endpoint] = &[
    endpoints::LIST_WEBHOOK_DELIVERIES,
    endpoints::REPLAY_WEBHOOK_DELIVERY,
];
