//! Seed 002, user groups: `{"success": 1, "user_group": …}` and `{"success": 0, "message": …}`.

use serde_json::{json, Value};

use super::{json_object, opt_string};
use crate::{
    error::{Error, Resource},
    user_groups::{Issued, UserGroupInput},
};

/// `{"name", "provided_id", "environment"?, "current_token"?}`; `null` counts as absent and
/// any other non-string type is refused, naming the field. Unknown fields are ignored.
pub fn parse_user_group(body: &[u8]) -> Result<UserGroupInput, Error> {
    let map = json_object(body)?;
    Ok(UserGroupInput {
        name: opt_string(&map, "name")?,
        provided_id: opt_string(&map, "provided_id")?,
        environment: opt_string(&map, "environment")?,
        current_token: opt_string(&map, "current_token")?,
    })
}

/// The 200 body: the seed's fields, plus `environment` (which the seed documents but its
/// example omits).
pub fn user_group(issued: &Issued) -> Value {
    let g = &issued.group;
    json!({
        "success": 1,
        "user_group": {
            "team_id": g.team_id,
            "token": issued.token.expose(),
            "name": g.name,
            "provided_id": g.provided_id,
            "environment": g.environment.as_str(),
        },
    })
}

/// Failures say what went wrong in `message`; internal details never reach the client.
pub fn error_body(err: &Error) -> Value {
    let message = match err {
        Error::Unavailable { .. } => {
            "The service is temporarily unavailable; please retry".to_owned()
        }
        Error::Config(_) | Error::Internal { .. } => "An internal error occurred".to_owned(),
        Error::Invalid { field, reason } => format!("{field} {reason}"),
        // Never the token itself: it is a secret, and it is the caller's own input.
        Error::NotFound {
            resource: Resource::UserGroup,
            ..
        } => "current_token does not match any user group".to_owned(),
        other => other.to_string(),
    };
    json!({"success": 0, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_have_the_seeds_shape() {
        assert_eq!(
            error_body(&Error::Unauthenticated),
            json!({"success": 0, "message": "Invalid or missing API key"})
        );
        assert_eq!(
            error_body(&Error::invalid("name", "is required")),
            json!({"success": 0, "message": "name is required"})
        );
        assert!(!error_body(&Error::internal("detail"))
            .to_string()
            .contains("detail"));
        assert_eq!(
            error_body(&Error::not_found(Resource::UserGroup, "ugt_secret")),
            json!({"success": 0, "message": "current_token does not match any user group"})
        );
    }

    #[test]
    fn request_fields_are_typed() {
        let ok = parse_user_group(br#"{"name":"Example 1","provided_id":"example_1","current_token":"","environment":null}"#).unwrap();
        assert_eq!(ok.name.as_deref(), Some("Example 1"));
        assert_eq!(ok.current_token.as_deref(), Some(""));
        assert_eq!(ok.environment, None);
        for (body, field) in [
            (&br#"{"name":1,"provided_id":"p"}"#[..], "name"),
            (br#"{"name":"n","provided_id":["p"]}"#, "provided_id"),
            (
                br#"{"name":"n","provided_id":"p","environment":true}"#,
                "environment",
            ),
            (br#"{"current_token":{"t":1}}"#, "current_token"),
            (br#"[]"#, "body"),
        ] {
            match parse_user_group(body) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
