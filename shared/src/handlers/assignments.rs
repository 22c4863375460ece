//! Seed 000's endpoint and the assignment progress endpoints.

use lambda_http::{Body, Request, Response};

use super::entry;
use crate::{
    app::App,
    assignments::{self, AssignRequest},
    auth::Schemes,
    error::{Error, Resource},
    http::{serve, Auth, Ctx, Endpoint, Reply},
    wire::{assign as wire, Family},
};

fn assignment_id(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.path_param("assignmentId")
        .ok_or_else(|| Error::not_found(Resource::Assignment, ""))
}

/// `POST /v1/flows/assign`
async fn assign_flow(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let request = AssignRequest::validate(wire::parse_assign(ctx.body())?, ctx.now)?;
        let a = assignments::assign(
            ctx.app,
            &ctx.caller,
            request,
            &ctx.request_id,
            ctx.mark.as_ref(),
            ctx.now,
        )
        .await?;
        Ok(Reply::json(200, wire::assigned(&a)))
    })
    .await
}

/// `GET /v1/assignments/{assignmentId}`
async fn get_assignment(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let a = assignments::get(ctx.app, &ctx.caller, &assignment_id(&ctx)?).await?;
        Ok(Reply::json(200, wire::assignment(&a, ctx.now)))
    })
    .await
}

/// `POST /v1/assignments/{assignmentId}/start`
async fn start_assignment(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let a = assignments::start(
            ctx.app,
            &ctx.caller,
            &assignment_id(&ctx)?,
            &ctx.request_id,
            ctx.now,
        )
        .await?;
        Ok(Reply::json(200, wire::assignment(&a, ctx.now)))
    })
    .await
}

/// `POST /v1/assignments/{assignmentId}/complete`
async fn complete_assignment(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve(app, req, endpoint, |ctx| async move {
        let a = assignments::complete(
            ctx.app,
            &ctx.caller,
            &assignment_id(&ctx)?,
            &ctx.request_id,
            ctx.now,
        )
        .await?;
        Ok(Reply::json(200, wire::assignment(&a, ctx.now)))
    })
    .await
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const ASSIGN_FLOW: Endpoint = entry!(
        "assign-flow",
        Family::Assignment,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/flows/assign")],
        assign_flow
    )
    .idempotent()
    .json_body();
    pub const GET_ASSIGNMENT: Endpoint = entry!(
        "get-assignment",
        Family::Assignment,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/v1/assignments/{assignmentId}")],
        get_assignment
    );
    pub const START_ASSIGNMENT: Endpoint = entry!(
        "start-assignment",
        Family::Assignment,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/assignments/{assignmentId}/start")],
        start_assignment
    );
    pub const COMPLETE_ASSIGNMENT: Endpoint = entry!(
        "complete-assignment",
        Family::Assignment,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/v1/assignments/{assignmentId}/complete")],
        complete_assignment
    );
}

pub(super) const ENDPOINTS: &[Endpoint] = &[
    endpoints::ASSIGN_FLOW,
    endpoints::GET_ASSIGNMENT,
    endpoints::START_ASSIGNMENT,
    endpoints::COMPLETE_ASSIGNMENT,
];
