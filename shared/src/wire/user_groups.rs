//! Seed 002, user groups: `{"success": 1, "user_group": …}` and `{"success": 0, "message": …}`.

use serde_json::{json, Value};

use crate::error::Error;

/// Failures say what went wrong in `message`; internal details never reach the client.
pub fn error_body(err: &Error) -> Value {
    let message = match err {
        Error::Unavailable(_) => "The service is temporarily unavailable; please retry".to_owned(),
        Error::Config(_) | Error::Internal(_) => "An internal error occurred".to_owned(),
        Error::Invalid { field, reason } => format!("{field} {reason}"),
        other => other.to_string(),
    };
    json!({"success": 0, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_have_the_seeds_shape() {
        assert_eq!(error_body(&Error::Unauthenticated), json!({"success": 0, "message": "Invalid or missing API key"}));
        assert_eq!(error_body(&Error::invalid("name", "is required")), json!({"success": 0, "message": "name is required"}));
        assert!(!error_body(&Error::Internal("detail".into())).to_string().contains("detail"));
    }
}
