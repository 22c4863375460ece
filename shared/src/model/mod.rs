//! Domain types: every record the table keeps, and the changes the store applies. They speak in domain words; the wire modules translate to each seed's fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod budget;
pub mod delivery;
mod settings;
mod user_group;
mod webhook;

pub use budget::EmailCharge;
pub use settings::{Change, SettingsChange};
pub use user_group::{Environment, UserGroup};
pub use webhook::{EndpointChange, WebhookEndpoint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Standard,
    Enterprise,
}

impl Tier {
    /// Requests per API key per minute.
    pub fn rate_limit(self) -> u32 {
        match self {
            Tier::Standard => 100,
            Tier::Enterprise => 1000,
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "standard" => Some(Tier::Standard),
            "enterprise" => Some(Tier::Enterprise),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub slug: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub tier: Tier,
    pub created_at: DateTime<Utc>,
    /// Kept by the transactions that add members.
    #[serde(default)]
    pub member_count: u64,
    /// Signs and verifies user access tokens (HS256); sealed with the app secret.
    #[serde(default)]
    pub user_token_secret_sealed: String,
    /// How long invitations live when a request does not say (default 30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_ttl_secs: Option<i64>,
    /// Where accept links point; `{secret}` is replaced by the invitation secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_url_template: Option<String>,
    /// When its settings last changed (`PATCH /v1/organization`); unset until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Owner,
    Member,
    Guest,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_uppercase().as_str() {
            "OWNER" => Some(Role::Owner),
            "MEMBER" => Some(Role::Member),
            "GUEST" => Some(Role::Guest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub org_id: String,
    /// The integer id the invitations API shows (per organization).
    #[serde(default)]
    pub number: u64,
    /// As given; uniqueness is on its lowercase form.
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    pub org_id: String,
    pub slug: String,
    pub name: String,
    pub module_count: u32,
    pub estimated_duration: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    Assigned,
    Started,
    Completed,
}

impl Progress {
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Assigned => "assigned",
            Progress::Started => "started",
            Progress::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    pub id: String,
    pub org_id: String,
    pub flow_id: String,
    pub flow_name: String,
    pub module_count: u32,
    pub estimated_duration: String,
    pub user_id: String,
    pub user_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<DateTime<Utc>>,
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub progress: Progress,
    pub created_at: DateTime<Utc>,
    /// When it was last assigned (re-assigning an unfinished flow moves this).
    pub assigned_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_at: Option<DateTime<Utc>>,
    /// The mark of the idempotent request that last assigned it (`idempotency::Mark`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
}

impl Assignment {
    /// Overdue: the due date passed before completion. Decided on read, not only by the sweeper.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.progress != Progress::Completed && self.due_date.is_some_and(|due| due < now)
    }
}

/// The two kinds of invitation flow (seed 003's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvitationKind {
    JoinOrganization,
    Signup,
}

/// An invitation's lifecycle (seed 003's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvitationState {
    StartPending,
    Started,
    Completed,
    Canceled,
    Expired,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::StartPending => "START_PENDING",
            InvitationState::Started => "STARTED",
            InvitationState::Completed => "COMPLETED",
            InvitationState::Canceled => "CANCELED",
            InvitationState::Expired => "EXPIRED",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            InvitationState::StartPending | InvitationState::Started
        )
    }
}

/// An invitation of an email address: one record, shown by the invitations API (seed 001) as
/// an invitation of a training flow and by the flows API (seeds 003, 004) as an invitation flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub kind: InvitationKind,
    pub state: InvitationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The invitee, once known (given at creation, or made by consume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_user_id: Option<String>,
    /// The training flow it invites into (invitations API), with its per-flow number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub create_organization: bool,
    /// Keyed hash of the current secret; a resend replaces it, so old links stop working.
    pub secret_hash: String,
    pub ttl_secs: i64,
    pub expire_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// For a signup that made an organization: that organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_org_id: Option<String>,
    /// The mark of the idempotent request that made or last re-sent it (`idempotency::Mark`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
    /// For an import's invitation: the first number that import reserved (a retry of the
    /// import numbers the rest of its list from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_base: Option<u64>,
}

impl Invitation {
    /// The state as of `now`: an open invitation past its expiry is expired, whether or not
    /// the sweeper has recorded it yet.
    pub fn state_at(&self, now: DateTime<Utc>) -> InvitationState {
        if self.state.is_open() && self.expire_time <= now {
            InvitationState::Expired
        } else {
            self.state
        }
    }
}

/// The caller behind an authenticated API key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    /// The organization's slug, so paths that name it need no extra read.
    pub org_slug: String,
    pub key_id: String,
    pub tier: Tier,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_have_their_limits() {
        assert_eq!(Tier::Standard.rate_limit(), 100);
        assert_eq!(Tier::Enterprise.rate_limit(), 1000);
        assert_eq!(Tier::parse("enterprise"), Some(Tier::Enterprise));
        assert_eq!(Tier::parse("gold"), None);
    }

    #[test]
    fn open_invitations_expire_on_read() {
        let now = Utc::now();
        let mut inv = Invitation {
            id: "inv_1".into(),
            org_id: "org_1".into(),
            kind: InvitationKind::JoinOrganization,
            state: InvitationState::StartPending,
            state_reason: None,
            email: "a@b.co".into(),
            display_name: None,
            role: None,
            user_id: None,
            creator_user_id: None,
            flow_id: None,
            flow_slug: None,
            number: None,
            message: None,
            create_organization: false,
            secret_hash: String::new(),
            ttl_secs: 60,
            expire_time: now,
            start_time: None,
            create_time: now,
            update_time: now,
            result_org_id: None,
            made_by: None,
            number_base: None,
        };
        assert_eq!(inv.state_at(now), InvitationState::Expired);
        assert_eq!(
            inv.state_at(now - chrono::Duration::seconds(1)),
            InvitationState::StartPending
        );
        inv.state = InvitationState::Completed;
        assert_eq!(
            inv.state_at(now + chrono::Duration::days(1)),
            InvitationState::Completed
        );
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!(Role::parse("member"), Some(Role::Member));
        assert_eq!(Role::parse("OWNER"), Some(Role::Owner));
        assert_eq!(Role::parse("admin"), None);
    }
}
