//! A user group for embedded dashboards (seed 002), as stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The environment tag; `provided_id` is unique per organization and environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Environment {
    Customer,
    Testing,
}

impl Environment {
    /// Case-insensitive, so `customer` works too; answers always use the seed's spelling.
    pub fn parse(s: &str) -> Option<Environment> {
        match s.trim().to_ascii_lowercase().as_str() {
            "customer" => Some(Environment::Customer),
            "testing" => Some(Environment::Testing),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Customer => "Customer",
            Environment::Testing => "Testing",
        }
    }
}

/// A stored user group. Its token is not here: only its hash is kept, by the table module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserGroup {
    pub team_id: u64,
    pub org_id: String,
    pub name: String,
    pub provided_id: String,
    pub environment: Environment,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
