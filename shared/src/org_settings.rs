//! An organization's own settings, which its admin key reads and changes
//! (`GET` / `PATCH /v1/organization`, `inflowctl org get|set`): its display name, where its
//! invitation emails' accept links point, and how long its invitations live by default.
//! New invitations and emails read them at once: creating an invitation reads the organization
//! for its lifetime, and the email worker reads it for the link when it sends.

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    error::Error,
    invitations::MAX_TTL_SECS,
    model::{Change, Organization, SettingsChange},
    validate,
};

/// The longest accept-URL template we keep (a link in an email; browsers take far more).
pub const MAX_TEMPLATE_CHARS: usize = 2000;
pub const MAX_NAME_CHARS: usize = 200;

/// The fields as given (strings), before checking.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub name: Option<String>,
    pub accept_url_template: Change<String>,
    pub invitation_ttl: Change<String>,
}

impl SettingsChange {
    /// Checks every field; `allow_private` is local mode (an `http` template to loopback).
    pub fn validate(input: SettingsInput, allow_private: bool) -> Result<Self, Error> {
        Ok(SettingsChange {
            name: input.name.map(|n| name(&n)).transpose()?,
            accept_url_template: match input.accept_url_template {
                Change::Set(t) => Change::Set(accept_url_template(&t, allow_private)?),
                Change::Clear => Change::Clear,
                Change::Keep => Change::Keep,
            },
            invitation_ttl_secs: match input.invitation_ttl {
                Change::Set(t) => {
                    Change::Set(validate::duration("invitationTtl", &t, MAX_TTL_SECS)?)
                }
                Change::Clear => Change::Clear,
                Change::Keep => Change::Keep,
            },
        })
    }
}

/// A display name: one line of 1-200 characters (counted as sent, then trimmed).
fn name(value: &str) -> Result<String, Error> {
    crate::validate::text("name", value, MAX_NAME_CHARS)?;
    crate::validate::name("name", value, MAX_NAME_CHARS)
}

/// An accept-URL template: an absolute `https` URL (or, in local mode, `http` to a loopback
/// host) without credentials, holding `{secret}` where the invitation secret goes.
pub fn accept_url_template(value: &str, allow_private: bool) -> Result<String, Error> {
    const FIELD: &str = "acceptUrlTemplate";
    if value.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(Error::invalid(
            FIELD,
            format!("must be at most {MAX_TEMPLATE_CHARS} characters"),
        ));
    }
    let value = value.trim();
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            FIELD,
            "must not contain spaces or control characters",
        ));
    }
    if !value.contains("{secret}") {
        return Err(Error::invalid(FIELD, "must contain {secret}"));
    }
    // Parsed with a stand-in secret: the braces are not URL characters.
    let url = url::Url::parse(&value.replace("{secret}", "secret"))
        .map_err(|_| Error::invalid(FIELD, "must be an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(FIELD, "must not hold credentials"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(Error::invalid(FIELD, "must be an absolute URL with a host")),
    };
    match url.scheme() {
        "https" => Ok(value.to_owned()),
        "http" if allow_private && loopback => Ok(value.to_owned()),
        _ => Err(Error::invalid(FIELD, "must be an https URL")),
    }
}

pub async fn get(app: &App, org_id: &str) -> Result<Organization, Error> {
    crate::store::orgs::get_org(&app.table, org_id).await
}

/// Applies a change (one conditional UpdateItem) and returns the organization as written; an
/// empty change reads it.
pub async fn update(
    app: &App,
    org_id: &str,
    change: &SettingsChange,
    now: DateTime<Utc>,
) -> Result<Organization, Error> {
    if change.is_empty() {
        return get(app, org_id).await;
    }
    crate::store::orgs::update_settings(&app.table, org_id, change, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_https_with_a_secret() {
        let ok = "https://app.example.com/join?s={secret}";
        assert_eq!(accept_url_template(ok, false).unwrap(), ok);
        assert!(accept_url_template("https://app.example.com/i/{secret}/go", false).is_ok());
        for bad in [
            "https://app.example.com/join",
            "http://app.example.com/join?s={secret}",
            "http://127.0.0.1:9000/accept?secret={secret}",
            "ftp://app.example.com/{secret}",
            "/accept?secret={secret}",
            "https://user:pw@app.example.com/{secret}",
            "https://app.example.com/a b/{secret}",
            "https://app.example.com/\r\n{secret}",
            "javascript:alert(1)//{secret}",
        ] {
            assert!(accept_url_template(bad, false).is_err(), "{bad}");
        }
        let long = format!("https://a.example/{}{{secret}}", "x".repeat(2000));
        assert!(accept_url_template(&long, false).is_err());
    }

    #[test]
    fn local_mode_allows_http_to_loopback_only() {
        for ok in [
            "http://127.0.0.1:9000/accept?secret={secret}",
            "http://localhost/accept?secret={secret}",
            "http://[::1]:8080/{secret}",
        ] {
            assert!(accept_url_template(ok, true).is_ok(), "{ok}");
        }
        assert!(accept_url_template("http://10.0.0.1/{secret}", true).is_err());
        assert!(accept_url_template("http://app.example.com/{secret}", true).is_err());
    }

    #[test]
    fn inputs_are_checked_field_by_field() {
        let input = SettingsInput {
            name: Some(" Acme ".into()),
            accept_url_template: Change::Clear,
            invitation_ttl: Change::Set("86400s".into()),
        };
        assert_eq!(
            SettingsChange::validate(input, false).unwrap(),
            SettingsChange {
                name: Some("Acme".into()),
                accept_url_template: Change::Clear,
                invitation_ttl_secs: Change::Set(86400),
            }
        );
        let bad_ttl = SettingsInput {
            invitation_ttl: Change::Set("31536001s".into()),
            ..Default::default()
        };
        match SettingsChange::validate(bad_ttl, false) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "invitationTtl"),
            other => panic!("{other:?}"),
        }
        assert!(SettingsChange::validate(SettingsInput::default(), false)
            .unwrap()
            .is_empty());
    }
}
