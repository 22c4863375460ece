//! Configuration, read once per container from the environment.

use crate::error::Error;

/// Names of the environment variables, shared by the functions, `inflowctl` and `make dev`.
pub mod vars {
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// The job queues: read by the relay and the webhook worker only (`crate::queue`).
    pub const WEBHOOK_QUEUE_URL: &str = "WEBHOOK_QUEUE_URL";
    pub const EMAIL_QUEUE_URL: &str = "EMAIL_QUEUE_URL";
    /// The relay's dead-letter queue: its event source's on-failure destination, which no
    /// function reads (`make dev`'s stand-in event source and `inflowctl` do).
    pub const RELAY_DLQ_URL: &str = "RELAY_DLQ_URL";
    pub const APP_SECRET_ID: &str = "APP_SECRET_ID";
    pub const PUBLIC_BASE_URL: &str = "PUBLIC_BASE_URL";
    /// Local mode (`make dev`, tests): `true` lets webhook targets and accept-URL templates
    /// name loopback and private addresses. Never set in AWS.
    pub const ALLOW_PRIVATE_WEBHOOK_TARGETS: &str = "ALLOW_PRIVATE_WEBHOOK_TARGETS";
    /// The hosts an organization's accept-URL template may point at (the operator's
    /// `AcceptUrlHosts`), comma-separated; `*.example.com` is any subdomain of example.com.
    /// Unset or empty: none, so every accept link is the stack's own page.
    pub const ACCEPT_URL_HOSTS: &str = "ACCEPT_URL_HOSTS";
    /// Invitation emails an organization may cause in a UTC day, by tier (the operator's
    /// `EmailDailyBudgetStandard` / `EmailDailyBudgetEnterprise`). Unset: no budget.
    pub const EMAIL_DAILY_BUDGET_STANDARD: &str = "EMAIL_DAILY_BUDGET_STANDARD";
    pub const EMAIL_DAILY_BUDGET_ENTERPRISE: &str = "EMAIL_DAILY_BUDGET_ENTERPRISE";
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// Name or ARN of the Secrets Manager secret whose value keys every hash we store.
    pub app_secret_id: String,
    /// Base of absolute URLs we hand out; when unset they are built from the request's host.
    pub public_base_url: Option<String>,
    /// Local mode: URLs that customers set (webhook targets, accept-URL templates) may name
    /// loopback and private hosts. The same switch the webhook worker delivers by.
    pub allow_private_targets: bool,
    /// [`vars::ACCEPT_URL_HOSTS`], lowercased.
    pub accept_url_hosts: Vec<String>,
    pub email_budgets: EmailBudgets,
}

/// Each tier's daily email budget per organization; `None`: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailBudgets {
    pub standard: Option<u64>,
    pub enterprise: Option<u64>,
}

impl EmailBudgets {
    pub fn from_env() -> Result<Self, Error> {
        let budget = |name: &str| -> Result<Option<u64>, Error> {
            optional(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        Error::Config(format!("{name} must be a whole number of emails"))
                    })
                })
                .transpose()
        };
        Ok(Self {
            standard: budget(vars::EMAIL_DAILY_BUDGET_STANDARD)?,
            enterprise: budget(vars::EMAIL_DAILY_BUDGET_ENTERPRISE)?,
        })
    }
}

impl Config {
    /// Reads the configuration; a missing variable fails init with a message naming it.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self {
            table_name: required(vars::TABLE_NAME)?,
            app_secret_id: required(vars::APP_SECRET_ID)?,
            public_base_url: optional(vars::PUBLIC_BASE_URL),
            allow_private_targets: allow_private_targets(),
            accept_url_hosts: accept_url_hosts(),
            email_budgets: EmailBudgets::from_env()?,
        })
    }
}

/// The operator's accept-URL hosts ([`vars::ACCEPT_URL_HOSTS`]).
pub fn accept_url_hosts() -> Vec<String> {
    host_list(&optional(vars::ACCEPT_URL_HOSTS).unwrap_or_default())
}

/// A comma-separated list of hosts, trimmed and lowercased, empty entries dropped.
pub fn host_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Whether local mode allows private targets (`ALLOW_PRIVATE_WEBHOOK_TARGETS=true`).
pub fn allow_private_targets() -> bool {
    optional(vars::ALLOW_PRIVATE_WEBHOOK_TARGETS).is_some_and(|v| v == "true")
}

pub(crate) fn required(name: &str) -> Result<String, Error> {
    optional(name).ok_or_else(|| Error::Config(format!("environment variable {name} is not set")))
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
