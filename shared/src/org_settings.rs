//! An organization's own settings, which its admin key reads and changes
//! (`GET` / `PATCH /v1/organization`, `inflowctl org get|set`): its display name, where its
//! invitation emails' accept links point, and how long its invitations live by default.
//! New invitations and emails read them at once: creating an invitation reads the organization
//! for its lifetime, and the email worker reads it for the link when it sends.

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    config::Config,
    error::Error,
    invitations::MAX_TTL_SECS,
    model::{Change, Organization, SettingsChange},
    validate,
};

/// The longest accept-URL template we keep (a link in an email; browsers take far more).
pub const MAX_TEMPLATE_CHARS: usize = 2000;
pub const MAX_NAME_CHARS: usize = 200;
/// The shortest default lifetime an organization may give its invitations. An invitation's
/// life is the time its invitee has to read an email, and a lifetime of seconds made an import
/// a mass expiry for the sweeper that every tenant shares (docs/bench/capacity.md, "Tenants"). One
/// invitation made through the flows API may still ask for less (`ttl`): one at a time.
pub const MIN_INVITATION_TTL_SECS: i64 = 3600;

/// The fields as given (strings), before checking.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub name: Option<String>,
    pub accept_url_template: Change<String>,
    pub invitation_ttl: Change<String>,
}

impl SettingsChange {
    /// Checks every field against the stack's configuration (its accept-URL hosts; local mode
    /// allows an `http` template to loopback).
    pub fn validate(input: SettingsInput, config: &Config) -> Result<Self, Error> {
        Ok(SettingsChange {
            name: input.name.map(|n| name(&n)).transpose()?,
            accept_url_template: match input.accept_url_template {
                Change::Set(t) => Change::Set(accept_url_template(&t, config)?),
                Change::Clear => Change::Clear,
                Change::Keep => Change::Keep,
            },
            invitation_ttl_secs: match input.invitation_ttl {
                Change::Set(t) => Change::Set(validate::duration(
                    "invitationTtl",
                    &t,
                    MIN_INVITATION_TTL_SECS..=MAX_TTL_SECS,
                )?),
                Change::Clear => Change::Clear,
                Change::Keep => Change::Keep,
            },
        })
    }
}

/// A display name: one line of 1-200 characters (counted as sent, then trimmed), with nothing
/// invisible: it is what invitees read in their email and on the accept page.
fn name(value: &str) -> Result<String, Error> {
    crate::validate::text("name", value, MAX_NAME_CHARS)?;
    crate::validate::label("name", value, MAX_NAME_CHARS)
}

/// An accept-URL template: an absolute `https` URL (or, in local mode, `http` to a loopback
/// host) without credentials, holding `{secret}` where the invitation secret goes, on a host the
/// operator allows (`AcceptUrlHosts`): a tenant cannot mail links to a host of its own choosing
/// from the operator's sender. Checked when set, and again when an email is sent (the operator
/// may have narrowed the list since).
pub fn accept_url_template(value: &str, config: &Config) -> Result<String, Error> {
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
    let local = config.allow_private_targets && loopback;
    match url.scheme() {
        "https" | "http" if local => Ok(value.to_owned()),
        "https" => match url.host_str() {
            Some(host) if host_allowed(host, &config.accept_url_hosts) => Ok(value.to_owned()),
            _ if config.accept_url_hosts.is_empty() => Err(Error::invalid(
                FIELD,
                "this stack sends every accept link to its own page (its operator allows no other host)",
            )),
            _ => Err(Error::invalid(
                FIELD,
                format!(
                    "must point at a host this stack allows: {}",
                    config.accept_url_hosts.join(", ")
                ),
            )),
        },
        _ => Err(Error::invalid(FIELD, "must be an https URL")),
    }
}

/// Whether `host` is one of `allowed`: the same name, or a subdomain where the entry is
/// `*.domain` (not the domain itself).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|entry| match entry.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => host == *entry,
    })
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

    fn config(hosts: &[&str], local: bool) -> Config {
        Config {
            table_name: "t".into(),
            app_secret_id: "s".into(),
            public_base_url: None,
            allow_private_targets: local,
            accept_url_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            email_budgets: Default::default(),
        }
    }

    #[test]
    fn templates_are_https_with_a_secret_on_an_allowed_host() {
        let allowed = config(&["app.example.com"], false);
        let ok = "https://app.example.com/join?s={secret}";
        assert_eq!(accept_url_template(ok, &allowed).unwrap(), ok);
        assert!(accept_url_template("https://APP.example.com/i/{secret}/go", &allowed).is_ok());
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
            "https://phish.example.net/{secret}",
            "https://app.example.com.evil.example/{secret}",
        ] {
            assert!(accept_url_template(bad, &allowed).is_err(), "{bad}");
        }
        let long = format!("https://app.example.com/{}{{secret}}", "x".repeat(2000));
        assert!(accept_url_template(&long, &allowed).is_err());
    }

    #[test]
    fn inputs_are_checked_field_by_field() {
        let none = config(&[], false);
        let input = SettingsInput {
            name: Some(" Acme ".into()),
            accept_url_template: Change::Clear,
            invitation_ttl: Change::Set("86400s".into()),
        };
        assert_eq!(
            SettingsChange::validate(input, &none).unwrap(),
            SettingsChange {
                name: Some("Acme".into()),
                accept_url_template: Change::Clear,
                invitation_ttl_secs: Change::Set(86400),
            }
        );
        for bad in ["31536001s", "1s", "3599s"] {
            let bad_ttl = SettingsInput {
                invitation_ttl: Change::Set(bad.into()),
                ..Default::default()
            };
            match SettingsChange::validate(bad_ttl, &none) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "invitationTtl"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let name = SettingsInput {
            name: Some("Acme\u{202E}cnI".into()),
            ..Default::default()
        };
        assert!(SettingsChange::validate(name, &none).is_err());
        assert!(SettingsChange::validate(SettingsInput::default(), &none)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn no_allowed_host_means_the_stack_s_own_page_only() {
        let err = accept_url_template("https://app.example.com/{secret}", &config(&[], false))
            .unwrap_err();
        assert!(err.to_string().contains("its own page"), "{err}");
    }

    #[test]
    fn wildcards_allow_subdomains_only() {
        let hosts = vec!["*.example.com".to_string(), "join.acme.example".to_string()];
        assert!(host_allowed("app.example.com", &hosts));
        assert!(host_allowed("a.b.example.com", &hosts));
        assert!(!host_allowed("example.com", &hosts));
        assert!(!host_allowed("badexample.com", &hosts));
        assert!(host_allowed("join.acme.example.", &hosts));
        assert!(!host_allowed("x.join.acme.example", &hosts));
    }

    #[test]
    fn local_mode_allows_http_to_loopback_only() {
        let local = config(&[], true);
        for ok in [
            "http://127.0.0.1:9000/accept?secret={secret}",
            "http://localhost/accept?secret={secret}",
            "http://[::1]:8080/{secret}",
        ] {
            assert!(accept_url_template(ok, &local).is_ok(), "{ok}");
        }
        assert!(accept_url_template("http://10.0.0.1/{secret}", &local).is_err());
        assert!(accept_url_template("http://app.example.com/{secret}", &local).is_err());
        assert!(accept_url_template("https://app.example.com/{secret}", &local).is_err());
    }
}
