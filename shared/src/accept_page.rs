//! The hosted accept page as HTML: what an invitation offers, the form that accepts it, and a
//! plain page for each state a link can be in. Pure functions, so what a hostile name can do
//! to the page is unit-tested here; `handlers::accept` does the reading and consuming.
//!
//! Safety: every text is HTML-escaped; the page loads nothing and runs no script (a
//! `Content-Security-Policy` that allows only its own inline style, by hash, and form posts to
//! itself); `Referrer-Policy: no-referrer` (the secret is in the URL); nothing is cached; and
//! there are no cookies, so a cross-site form cannot accept for anyone: the POST must carry the
//! secret itself.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::{
    email::render::{html_escape, one_line},
    error::{Error, Precondition},
    http::Reply,
    model::InvitationKind,
};

/// What the page says about an invitation.
#[derive(Debug, Clone)]
pub struct Details {
    pub kind: InvitationKind,
    pub create_organization: bool,
    pub org_name: String,
    pub flow_name: Option<String>,
    /// Who invited: the creating user's name or email, when known.
    pub inviter: Option<String>,
    pub email: String,
    pub expires: DateTime<Utc>,
}

/// Every page the accept route answers with.
#[derive(Debug, Clone)]
pub enum Page {
    /// An open invitation, with the form that accepts it.
    Open {
        details: Details,
        secret: String,
    },
    /// Just accepted.
    Accepted(Details),
    AlreadyAccepted,
    Expired,
    Canceled,
    /// No such link (malformed, forged, or replaced by a resend).
    Unknown,
    /// A form post without a secret.
    Incomplete,
    TooLarge,
    /// Too many requests from this address this minute.
    Busy {
        retry_after: u64,
    },
    Unavailable,
    Failed,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f5f6f8;color:#1d2330;margin:0}\
main{max-width:34rem;margin:4rem auto;background:#fff;border-radius:12px;padding:2rem 2.5rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}\
h1{font-size:1.5rem;margin:0 0 1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.5rem 1.25rem;margin:1.5rem 0}\
dt{color:#5b6478}dd{margin:0;overflow-wrap:anywhere}button{font:inherit;font-weight:600;background:#2f5bea;color:#fff;border:0;\
border-radius:8px;padding:.75rem 1.5rem;cursor:pointer}p.note{color:#5b6478;font-size:.9rem}";

impl Page {
    pub fn status(&self) -> u16 {
        match self {
            Page::Open { .. } | Page::Accepted(_) => 200,
            Page::Incomplete => 400,
            Page::Unknown => 404,
            Page::AlreadyAccepted => 409,
            Page::Expired | Page::Canceled => 410,
            Page::TooLarge => 413,
            Page::Busy { .. } => 429,
            Page::Failed => 500,
            Page::Unavailable => 503,
        }
    }

    /// A short name of the state, on the page's `<main data-state>` (for tests and scripts).
    pub fn state(&self) -> &'static str {
        match self {
            Page::Open { .. } => "open",
            Page::Accepted(_) => "accepted",
            Page::AlreadyAccepted => "already-accepted",
            Page::Expired => "expired",
            Page::Canceled => "canceled",
            Page::Unknown => "unknown",
            Page::Incomplete => "incomplete",
            Page::TooLarge => "too-large",
            Page::Busy { .. } => "busy",
            Page::Unavailable => "unavailable",
            Page::Failed => "failed",
        }
    }

    /// The page as a reply, with its status and safety headers.
    pub fn reply(&self) -> Reply {
        let mut reply = Reply::html(self.status(), self.html());
        reply.headers.extend(headers());
        match self {
            Page::Unavailable => reply = reply.with_header("retry-after", "5".into()),
            Page::Busy { retry_after } => {
                reply = reply.with_header("retry-after", retry_after.to_string())
            }
            _ => {}
        }
        reply
    }

    pub fn html(&self) -> String {
        let (title, body) = self.content();
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"referrer\" content=\"no-referrer\"><title>{t}</title><style>{STYLE}</style></head>\n\
             <body><main data-state=\"{state}\"><h1>{t}</h1>\n{body}</main></body></html>\n",
            t = html_escape(&title),
            state = self.state(),
        )
    }

    /// The title and the (already escaped) body.
    fn content(&self) -> (String, String) {
        let plain =
            |title: &str, text: &str| (title.to_owned(), format!("<p>{}</p>\n", html_escape(text)));
        match self {
            Page::Open { details, secret } => {
                let title = format!("Join {}", name(&details.org_name));
                let action = match (details.kind, details.create_organization) {
                    (InvitationKind::Signup, true) => "Accepting creates your account and your own organization.",
                    (InvitationKind::Signup, false) => "Accepting creates your account.",
                    (InvitationKind::JoinOrganization, _) => "Accepting makes you a member.",
                };
                let body = format!(
                    "<p>You have been invited to {what}.</p>\n{list}<form method=\"post\" action=\"accept\">\
                     <input type=\"hidden\" name=\"secret\" value=\"{secret}\">\
                     <button type=\"submit\" id=\"accept\">Accept the invitation</button></form>\n\
                     <p class=\"note\">{action} If you did not expect this invitation, close this page.</p>\n",
                    what = html_escape(&offer(details)),
                    list = list(details),
                    secret = html_escape(secret),
                    action = html_escape(action),
                );
                (title, body)
            }
            Page::Accepted(details) => {
                let done = match (details.kind, details.create_organization, &details.flow_name) {
                    (InvitationKind::Signup, true, _) => "Your account and your organization are ready.".to_owned(),
                    (InvitationKind::Signup, false, _) => format!("Your account at {} is ready.", name(&details.org_name)),
                    (_, _, Some(flow)) => format!("You are now a member of {}, in the training flow “{}”.", name(&details.org_name), name(flow)),
                    (_, _, None) => format!("You are now a member of {}.", name(&details.org_name)),
                };
                let body = format!(
                    "<p>{}</p>\n<p class=\"note\">Accepted for {}. You can close this page.</p>\n",
                    html_escape(&done),
                    html_escape(&details.email)
                );
                ("Invitation accepted".to_owned(), body)
            }
            Page::AlreadyAccepted => plain("Already accepted", "This invitation has already been accepted. Nothing more is needed."),
            Page::Expired => plain("Invitation expired", "This invitation has expired. Ask the person who invited you to send it again."),
            Page::Canceled => plain("Invitation canceled", "This invitation was canceled by the organization that sent it."),
            Page::Unknown => plain("Invitation not found", "This link is not valid. It may be mistyped, or a newer invitation replaced it: use the link in the latest email."),
            Page::Incomplete => plain("Invitation not found", "The request did not carry an invitation. Open the link in your email again."),
            Page::TooLarge => plain("Request too large", "The request was too large."),
            Page::Busy { .. } => plain("Please wait a moment", "There were too many attempts from your network just now. Please try again in a minute."),
            Page::Unavailable => plain("Please try again", "The service is briefly unavailable. Please try again in a moment."),
            Page::Failed => plain("Something went wrong", "Something went wrong on our side. Please try again later."),
        }
    }

    /// The page for a failure of the accept route.
    pub fn for_error(err: &Error) -> Page {
        match err {
            Error::NotFound { .. } => Page::Unknown,
            Error::Invalid { .. } => Page::Incomplete,
            Error::FailedPrecondition { reason, .. } => match reason {
                Precondition::FlowCompleted => Page::AlreadyAccepted,
                Precondition::FlowCanceled => Page::Canceled,
                Precondition::FlowExpired => Page::Expired,
                Precondition::NotInvitee => Page::Failed,
            },
            Error::PayloadTooLarge { .. } => Page::TooLarge,
            Error::RateLimited { retry_after, .. } => Page::Busy {
                retry_after: *retry_after,
            },
            Error::Unavailable { .. } => Page::Unavailable,
            _ => Page::Failed,
        }
    }
}

/// The reply for a failure (what `http::serve_public` renders errors with).
pub fn error_reply(err: &Error) -> Reply {
    Page::for_error(err).reply()
}

/// A name on one line, as the email shows it.
fn name(value: &str) -> String {
    one_line(value, 120)
}

/// "the training flow “Onboarding” at Acme Inc" — what accepting gets you.
fn offer(d: &Details) -> String {
    let org = name(&d.org_name);
    match (&d.flow_name, d.kind) {
        (Some(flow), _) => format!("the training flow “{}” at {org}", name(flow)),
        (None, InvitationKind::JoinOrganization) => format!("join {org}"),
        (None, InvitationKind::Signup) => format!("sign up with {org}"),
    }
}

fn list(d: &Details) -> String {
    let mut rows = vec![("Organization", name(&d.org_name))];
    if let Some(flow) = &d.flow_name {
        rows.push(("Training flow", name(flow)));
    }
    let inviter = match &d.inviter {
        Some(who) => name(who),
        None => format!("An administrator of {}", name(&d.org_name)),
    };
    rows.push(("Invited by", inviter));
    rows.push(("Invitation for", d.email.clone()));
    rows.push((
        "Expires",
        d.expires.format("%Y-%m-%d %H:%M UTC").to_string(),
    ));
    let items: String = rows
        .iter()
        .map(|(k, v)| format!("<dt>{k}</dt><dd>{}</dd>", html_escape(v)))
        .collect();
    format!("<dl>{items}</dl>\n")
}

/// The headers of every page: the CSP (only the page's own style, by its hash; form posts to
/// itself; nothing else loads), no referrer, no caching, no framing, no sniffing.
pub fn headers() -> Vec<(&'static str, String)> {
    vec![
        (
            "content-security-policy",
            content_security_policy().to_owned(),
        ),
        ("referrer-policy", "no-referrer".into()),
        ("cache-control", "no-store".into()),
        ("pragma", "no-cache".into()),
        ("x-content-type-options", "nosniff".into()),
        ("x-frame-options", "DENY".into()),
    ]
}

fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn details() -> Details {
        Details {
            kind: InvitationKind::JoinOrganization,
            create_organization: false,
            org_name: "Acme Inc".into(),
            flow_name: Some("Customer Onboarding".into()),
            inviter: Some("Jane Doe".into()),
            email: "joe@example.com".into(),
            expires: Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap(),
        }
    }

    #[test]
    fn an_open_invitation_shows_who_what_and_until_when_with_its_form() {
        let page = Page::Open {
            details: details(),
            secret: "inv_1.abc".into(),
        };
        let html = page.html();
        for expected in [
            "data-state=\"open\"",
            "<title>Join Acme Inc</title>",
            "the training flow “Customer Onboarding” at Acme Inc",
            "<dt>Invited by</dt><dd>Jane Doe</dd>",
            "<dt>Invitation for</dt><dd>joe@example.com</dd>",
            "<dt>Expires</dt><dd>2026-12-01 09:30 UTC</dd>",
            "<form method=\"post\" action=\"accept\">",
            "<input type=\"hidden\" name=\"secret\" value=\"inv_1.abc\">",
        ] {
            assert!(html.contains(expected), "{expected}\n{html}");
        }
        assert_eq!(page.status(), 200);
        assert!(!html.contains("<script"));
    }

    #[test]
    fn every_state_has_its_status() {
        for (page, status) in [
            (Page::Accepted(details()), 200),
            (Page::Incomplete, 400),
            (Page::Unknown, 404),
            (Page::AlreadyAccepted, 409),
            (Page::Expired, 410),
            (Page::Canceled, 410),
            (Page::Unavailable, 503),
        ] {
            let reply = page.reply();
            assert_eq!(reply.status, status, "{page:?}");
            assert_eq!(reply.content_type, crate::http::HTML);
            let names: Vec<&str> = reply.headers.iter().map(|(n, _)| *n).collect();
            for header in [
                "content-security-policy",
                "referrer-policy",
                "cache-control",
            ] {
                assert!(names.contains(&header), "{page:?}: {header}");
            }
        }
        let reason = |reason| Error::FailedPrecondition {
            reason,
            message: String::new(),
        };
        assert!(matches!(
            Page::for_error(&reason(Precondition::FlowExpired)),
            Page::Expired
        ));
        assert!(matches!(
            Page::for_error(&reason(Precondition::FlowCanceled)),
            Page::Canceled
        ));
        assert!(matches!(
            Page::for_error(&reason(Precondition::FlowCompleted)),
            Page::AlreadyAccepted
        ));
        assert!(matches!(
            Page::for_error(&Error::not_found(crate::error::Resource::Invitation, "x")),
            Page::Unknown
        ));
    }

    #[test]
    fn every_name_is_escaped() {
        let hostile = Details {
            org_name: "<script>alert(1)</script>".into(),
            flow_name: Some("\"><img src=x onerror=alert(1)>".into()),
            inviter: Some("Eve\r\n<b>".into()),
            email: "a&b@example.com".into(),
            ..details()
        };
        for page in [
            Page::Open {
                details: hostile.clone(),
                secret: "\"><script>".into(),
            },
            Page::Accepted(hostile),
        ] {
            let html = page.html();
            assert!(
                !html.contains("<script") && !html.contains("<img") && !html.contains("<b>"),
                "{html}"
            );
            assert!(html.contains("&lt;script&gt;"), "{html}");
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_style() {
        use base64::Engine;
        use sha2::Digest;
        let csp = content_security_policy();
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
        assert!(csp.starts_with("default-src 'none';"));
        assert!(!csp.contains("script-src") && !csp.contains("unsafe"));
        // The style is the one in the page, byte for byte.
        let html = Page::Unknown.html();
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
    }
}
