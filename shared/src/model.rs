//! Domain types. They speak in domain words; the wire modules translate to each seed's fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
}

impl Assignment {
    /// Overdue: the due date passed before completion. Decided on read, not only by the sweeper.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.progress != Progress::Completed && self.due_date.is_some_and(|due| due < now)
    }
}

/// The caller behind an authenticated API key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
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
    fn roles_parse_case_insensitively() {
        assert_eq!(Role::parse("member"), Some(Role::Member));
        assert_eq!(Role::parse("OWNER"), Some(Role::Owner));
        assert_eq!(Role::parse("admin"), None);
    }
}
