//! Seed 000's endpoint and the assignment progress endpoints.

use lambda_http::{Body, Request, Response};

use crate::{
    app::App,
    assignments::{self, AssignRequest},
    auth::Schemes,
    error::{Error, Resource},
    http::{serve, Auth, Ctx, Reply, Route},
    wire::{assign as wire, Family},
};

const fn route(name: &'static str) -> Route {
    Route::new(name, Family::Assignment, Auth::Admin(Schemes::Bearer))
}

fn assignment_id(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.path_param("assignmentId")
        .ok_or_else(|| Error::not_found(Resource::Assignment, ""))
}

/// `POST /v1/flows/assign`
pub async fn assign_flow(app: &App, req: Request) -> Response<Body> {
    serve(
        app,
        req,
        &route("assign-flow").idempotent().json_body(),
        |ctx| async move {
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
        },
    )
    .await
}

/// `GET /v1/assignments/{assignmentId}`
pub async fn get_assignment(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("get-assignment"), |ctx| async move {
        let a = assignments::get(ctx.app, &ctx.caller, &assignment_id(&ctx)?).await?;
        Ok(Reply::json(200, wire::assignment(&a, ctx.now)))
    })
    .await
}

/// `POST /v1/assignments/{assignmentId}/start`
pub async fn start_assignment(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("start-assignment"), |ctx| async move {
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
pub async fn complete_assignment(app: &App, req: Request) -> Response<Body> {
    serve(app, req, &route("complete-assignment"), |ctx| async move {
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
