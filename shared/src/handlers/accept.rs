//! The hosted accept page: `GET /accept?secret=…` shows the invitation, `POST /accept` (a form
//! field `secret`) accepts it. No key: the flow secret is the proof. Its cost is bounded: a
//! malformed secret is answered with no DynamoDB call; any other counts in its client
//! address's window (`address_limit`, one UpdateItem) at once with the one read of the
//! invitation, whose result only an admitted address sees (plus one BatchGetItem of the names
//! it shows, for a valid link).

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};

use super::entry;
use crate::{
    accept_page::{self, Details, Page},
    app::App,
    error::Error,
    http::{serve_public, Auth, Endpoint, PublicCtx, Reply},
    invitations::{
        self,
        consume::{self, By},
        lifecycle,
    },
    model::Invitation,
    wire::Family,
};

/// `GET /accept?secret=…` and `POST /accept`.
async fn accept_page(app: &App, req: Request, endpoint: &Endpoint) -> Response<Body> {
    serve_public(
        app,
        req,
        endpoint,
        accept_page::error_reply,
        |ctx| async move {
            match ctx.req.method().as_str() {
                "POST" => accept(&ctx).await,
                _ => show(&ctx).await,
            }
        },
    )
    .await
}

async fn show(ctx: &PublicCtx<'_>) -> Result<Reply, Error> {
    let secret = ctx.query("secret").unwrap_or_default();
    let inv = find(ctx, &secret).await?;
    refuse_closed(&inv, ctx.now)?;
    let details = details(ctx.app, &inv).await?;
    Ok(Page::Open { details, secret }.reply())
}

async fn accept(ctx: &PublicCtx<'_>) -> Result<Reply, Error> {
    let secret = form_field(ctx.req.body().as_ref(), "secret")
        .ok_or_else(|| Error::invalid("secret", "is required"))?;
    let inv = find(ctx, &secret).await?;
    refuse_closed(&inv, ctx.now)?;
    let done = consume::consume_found(ctx.app, inv, By::Secret, &ctx.request_id, ctx.now).await?;
    Ok(Page::Accepted(details(ctx.app, &done).await?).reply())
}

/// The invitation a link's secret names. A secret not shaped like one of ours is refused with
/// no I/O; any other is counted in its client address's window while it is read (the read
/// needs nothing the count decides, so the page waits for one round trip, not two). What was
/// read is used only once the address is admitted: a refused address gets its 429 page, and
/// learns nothing of the invitation.
async fn find(ctx: &PublicCtx<'_>, secret: &str) -> Result<Invitation, Error> {
    if invitations::id_in_secret(secret).is_none() {
        return consume::by_secret(ctx.app, secret).await;
    }
    let (admitted, found) = futures::join!(ctx.admit(), consume::by_secret(ctx.app, secret));
    admitted?;
    found
}

/// Only an open invitation is shown with its form or accepted; the others get their page.
fn refuse_closed(inv: &Invitation, now: DateTime<Utc>) -> Result<(), Error> {
    match inv.state_at(now) {
        state if state.is_open() => Ok(()),
        state => Err(lifecycle::not_open(state)),
    }
}

/// The names the page shows, in one BatchGetItem.
async fn details(app: &App, inv: &Invitation) -> Result<Details, Error> {
    let (org, flow, inviter) = lifecycle::names(app, inv).await?;
    Ok(Details {
        kind: inv.kind,
        create_organization: inv.create_organization,
        org_name: org.name,
        flow_name: flow.map(|f| f.name),
        inviter: inviter.map(|u| u.name.unwrap_or(u.email)),
        email: inv.email.clone(),
        expires: inv.expire_time,
    })
}

/// A field of an `application/x-www-form-urlencoded` body (what a plain HTML form posts).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_read_from_urlencoded_bodies() {
        assert_eq!(
            form_field(b"secret=inv_1.ab%2Bc&x=1", "secret").as_deref(),
            Some("inv_1.ab+c")
        );
        assert_eq!(form_field(b"secret=", "secret"), None);
        assert_eq!(form_field(b"\xff\xfe", "secret"), None);
        assert_eq!(form_field(b"", "secret"), None);
    }
}

/// This family's endpoints (`handlers::endpoints` has every family's).
pub mod endpoints {
    use super::*;

    pub const ACCEPT_PAGE: Endpoint = entry!(
        "accept-page",
        Family::Flows,
        Auth::None,
        [("GET", "/accept"), ("POST", "/accept")],
        accept_page
    );
}

pub(super) const ENDPOINTS: &[Endpoint] = &[endpoints::ACCEPT_PAGE];
