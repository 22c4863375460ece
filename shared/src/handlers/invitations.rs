//! Seed 001: `/flows/{organization}/{flow}/invitations…`.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Mutex, PoisonError},
};

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

use super::entry;
use crate::{
    app::App,
    auth::Schemes,
    error::{Error, Resource},
    http::{serve_prefetched, Auth, Ctx, Endpoint, Reply},
    invitations::{
        create::{self, InviteRequest},
        import::{self, ImportRequest},
        lifecycle,
    },
    model::Flow,
    validate,
    wire::{invitations as wire, Family},
};

const MAX_PAGE: usize = 100;

/// The flow a path names, read before the caller is known (see [`prefetch`]), with the
/// organization it was read under.
struct Prefetched {
    org_id: String,
    found: Result<Option<Flow>, Error>,
}

/// Starts reading the training flow a path names, so that it runs at once with authentication
/// (`http::serve_prefetched`). A flow is keyed by its organization's id, which the path names
/// only by slug: the read is made when this container has served that slug's organization
/// before ([`ORG_IDS`], learned from authenticated callers only), else it is left to
/// [`flow_of`] after authentication, as is any path [`create::resolve_flow`] refuses with no
/// I/O. What it finds is used only for the authenticated caller's own organization.
fn prefetch<'a>(app: &'a App, req: &Request) -> impl Future<Output = Option<Prefetched>> + 'a {
    let param = |name: &str| {
        req.path_parameters_ref()
            .and_then(|p| p.first(name))
            .map(str::to_owned)
    };
    let wanted = match (param("organization"), param("flow")) {
        (Some(org), Some(flow)) if validate::slug("flow", &flow).is_ok() => {
            ORG_IDS.get(&org).map(|org_id| (org_id, flow))
        }
        _ => None,
    };
    async move {
        let (org_id, flow) = wanted?;
        let found = create::flow_by_slug(app, &org_id, &flow).await;
        Some(Prefetched { org_id, found })
    }
}

/// The training flow the path names, if it belongs to the caller's organization: what
/// [`prefetch`] read when it read it under the caller's organization for a path naming that
/// organization (exactly the read [`create::resolve_flow`] makes), else that read now.
async fn flow_of(ctx: &Ctx<'_>, prefetched: Option<Prefetched>) -> Result<Flow, Error> {
    let org = ctx
        .path_param("organization")
        .ok_or_else(|| Error::not_found(Resource::Organization, ""))?;
    let flow = ctx
        .path_param("flow")
        .ok_or_else(|| Error::not_found(Resource::Flow, ""))?;
    ORG_IDS.remember(&ctx.caller.org_slug, &ctx.caller.org_id);
    match prefetched {
        Some(Prefetched { org_id, found })
            if org == ctx.caller.org_slug && org_id == ctx.caller.org_id =>
        {
            found?
                .filter(|f| f.org_id == ctx.caller.org_id)
                .ok_or_else(|| Error::not_found(Resource::Flow, &flow))
        }
        _ => create::resolve_flow(ctx.app, &ctx.caller, &org, &flow).await,
    }
}

/// Organization ids by slug, as authenticated callers' keys name them (a slug never changes
/// its organization), per container and bounded: what lets [`prefetch`] key a flow's read.
/// A wrong or missing entry costs at most a wasted read: [`flow_of`] checks what was read.
static ORG_IDS: OrgIds = OrgIds::new();

struct OrgIds(Mutex<Option<HashMap<String, String>>>);

impl OrgIds {
    const MOST: usize = 4096;

    const fn new() -> Self {
        Self(Mutex::new(None))
    }

    fn get(&self, slug: &str) -> Option<String> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().and_then(|ids| ids.get(slug)).cloned()
    }

    fn remember(&self, slug: &str, org_id: &str) {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let ids = guard.get_or_insert_with(HashMap::new);
        if ids.get(slug).map(String::as_str) == Some(org_id) {
            return;
        }
        if ids.len() >= Self::MOST {
            ids.clear();
        }
        ids.insert(slug.to_owned(), org_id.to_owned());
    }
}

fn number_of(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.path_param("id")
        .ok_or_else(|| Error::not_found(Resource::Invitation, ""))
}

/// `GET /flows/{organization}/{flow}/invitations`: pending invitations, paginated with
/// `limit` and `after`, and a `Link: <…>; rel="next"` header while there are more.
async fn list_invitations(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(
        app,
        req,
        endpoint,
        |req| prefetch(app, req),
        |ctx, found| async move {
            let flow = flow_of(&ctx, found).await?;
            let limit = match ctx.query("limit") {
                None => MAX_PAGE,
                Some(l) => l
                    .parse()
                    .ok()
                    .filter(|l| (1..=MAX_PAGE).contains(l))
                    .ok_or_else(|| Error::invalid("limit", format!("must be 1-{MAX_PAGE}")))?,
            };
            let after = match ctx.query("after") {
                None => 0,
                Some(a) => a
                    .parse()
                    .map_err(|_| Error::invalid("after", "must be an invitation id"))?,
            };
            let (page, next) =
                lifecycle::list_pending(ctx.app, &ctx.caller, &flow, after, limit, ctx.now).await?;
            let base = ctx.base_url();
            let body: Vec<Value> = page
                .iter()
                .map(|inv| wire::invitation(inv, &base, &ctx.caller.org_slug))
                .collect();
            let reply = Reply::json(200, Value::Array(body));
            Ok(match next {
                Some(after) => {
                    let link = format!(
                    "<{base}/flows/{}/{}/invitations?limit={limit}&after={after}>; rel=\"next\"",
                    ctx.caller.org_slug, flow.slug
                );
                    reply.with_header("link", link)
                }
                None => reply,
            })
        },
    )
    .await
}

/// `GET /flows/{organization}/{flow}/invitations/{id}`
async fn get_invitation(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(
        app,
        req,
        endpoint,
        |req| prefetch(app, req),
        |ctx, found| async move {
            let flow = flow_of(&ctx, found).await?;
            let inv = lifecycle::by_number(ctx.app, &ctx.caller, &flow, &number_of(&ctx)?).await?;
            Ok(Reply::json(
                200,
                wire::invitation(&inv, &ctx.base_url(), &ctx.caller.org_slug),
            ))
        },
    )
    .await
}

/// `POST /flows/{organization}/{flow}/invitations`: create, or re-send to the same email.
async fn create_invitation(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(
        app,
        req,
        endpoint,
        |req| prefetch(app, req),
        |ctx, found| async move {
            let request = InviteRequest::validate(wire::parse_create(ctx.body())?)?;
            let flow = flow_of(&ctx, found).await?;
            let inv = create::invite(
                ctx.app,
                &ctx.caller,
                &flow,
                request,
                &ctx.request_id,
                ctx.mark.as_ref(),
                ctx.now,
            )
            .await?;
            Ok(Reply::json(
                201,
                wire::invitation(&inv, &ctx.base_url(), &ctx.caller.org_slug),
            ))
        },
    )
    .await
}

/// `POST /flows/{organization}/{flow}/invitations/import`
async fn import_invitations(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(app, req, endpoint, |req| prefetch(app, req), |ctx, found| async move {
        let request = ImportRequest::validate(wire::parse_import(ctx.body())?)?;
        let flow = flow_of(&ctx, found).await?;
        let done = import::import(ctx.app, &ctx.caller, &flow, request, &ctx.request_id, ctx.mark.as_ref(), ctx.now).await?;
        let base = ctx.base_url();
        Ok(Reply::json(200, json!({
            "invitations": done.invitations.iter().map(|inv| wire::invitation(inv, &base, &ctx.caller.org_slug)).collect::<Vec<_>>(),
            "added_users": done.added_users.iter().map(wire::added_user).collect::<Vec<_>>(),
            "erroneous_emails": wire::erroneous(&done.erroneous),
        })))
    })
    .await
}

/// `DELETE /flows/{organization}/{flow}/invitations/{id}`: 204 with no body.
async fn delete_invitation(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_prefetched(
        app,
        req,
        endpoint,
        |req| prefetch(app, req),
        |ctx, found| async move {
            let flow = flow_of(&ctx, found).await?;
            lifecycle::delete(
                ctx.app,
                &ctx.caller,
                &flow,
                &number_of(&ctx)?,
                &ctx.request_id,
                ctx.now,
            )
            .await?;
            Ok(Reply::no_content())
        },
    )
    .await
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const LIST_INVITATIONS: Endpoint = entry!(
        "list-invitations",
        Family::Invitations,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/flows/{organization}/{flow}/invitations")],
        list_invitations
    );
    pub const CREATE_INVITATION: Endpoint = entry!(
        "create-invitation",
        Family::Invitations,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/flows/{organization}/{flow}/invitations")],
        create_invitation
    )
    .idempotent()
    .json_body();
    pub const IMPORT_INVITATIONS: Endpoint = entry!(
        "import-invitations",
        Family::Invitations,
        Auth::Admin(Schemes::Bearer),
        [("POST", "/flows/{organization}/{flow}/invitations/import")],
        import_invitations
    )
    .idempotent()
    .json_body();
    pub const GET_INVITATION: Endpoint = entry!(
        "get-invitation",
        Family::Invitations,
        Auth::Admin(Schemes::Bearer),
        [("GET", "/flows/{organization}/{flow}/invitations/{id}")],
        get_invitation
    );
    pub const DELETE_INVITATION: Endpoint = entry!(
        "delete-invitation",
        Family::Invitations,
        Auth::Admin(Schemes::Bearer),
        [("DELETE", "/flows/{organization}/{flow}/invitations/{id}")],
        delete_invitation
    );
}

pub(super) const ENDPOINTS: &[Endpoint] = &[
    endpoints::LIST_INVITATIONS,
    endpoints::CREATE_INVITATION,
    endpoints::IMPORT_INVITATIONS,
    endpoints::GET_INVITATION,
    endpoints::DELETE_INVITATION,
];
