//! What a request charges to its organization's daily email budget, as the store writes it.

use crate::error::Error;

/// `count` emails charged to `org_id`'s budget of `day` (a UTC date, `YYYY-MM-DD`), which
/// holds `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCharge {
    pub org_id: String,
    pub day: String,
    pub count: u64,
    pub limit: u64,
    /// Seconds until the day ends and the budget renews.
    pub renews_in: u64,
}

impl EmailCharge {
    /// The refusal: a 429 that says what is spent and when it renews.
    pub fn exceeded(&self) -> Error {
        Error::QuotaExceeded {
            message: format!(
                "This organization's daily budget of {} invitation emails is spent ({} more asked for); it renews at 00:00 UTC, in {} seconds",
                self.limit, self.count, self.renews_in
            ),
            retry_after: self.renews_in,
        }
    }
}
