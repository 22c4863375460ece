//! Seed 000, the flow assignment API: its request fields, bodies and error shape.

use serde_json::{json, Value};

use super::{json_object, opt_string, opt_time, req_string, time};
use crate::{
    assignments::AssignInput,
    error::{Error, Resource},
    model::Assignment,
};

pub fn parse_assign(body: &[u8]) -> Result<AssignInput, Error> {
    let map = json_object(body)?;
    Ok(AssignInput {
        flow_id: req_string(&map, "flowId")?,
        user_email: req_string(&map, "userEmail")?,
        due_date: opt_string(&map, "dueDate")?,
        priority: opt_string(&map, "priority")?,
        notes: opt_string(&map, "notes")?,
    })
}

/// The 200 body of `POST /v1/flows/assign`, exactly as the seed shows it.
pub fn assigned(a: &Assignment) -> Value {
    json!({
        "success": true,
        "assignmentId": a.id,
        "message": "Flow assigned successfully",
        "details": details(a),
    })
}

fn details(a: &Assignment) -> Value {
    json!({
        "assignedAt": time(a.assigned_at),
        "assigneeEmail": a.user_email,
        "flowName": a.flow_name,
        "moduleCount": a.module_count,
        "estimatedDuration": a.estimated_duration,
    })
}

/// An assignment with its progress (our additive endpoints), in the seed's vocabulary.
pub fn assignment(a: &Assignment, now: chrono::DateTime<chrono::Utc>) -> Value {
    let overdue = a.is_overdue(now);
    json!({
        "assignmentId": a.id,
        "flowId": a.flow_id,
        "userId": a.user_id,
        "userEmail": a.user_email,
        "status": if overdue { "overdue" } else { a.progress.as_str() },
        "progress": a.progress.as_str(),
        "overdue": overdue,
        "dueDate": opt_time(a.due_date),
        "priority": a.priority.as_str(),
        "notes": a.notes,
        "assignedAt": time(a.assigned_at),
        "startedAt": opt_time(a.started_at),
        "completedAt": opt_time(a.completed_at),
        "details": details(a),
    })
}

pub fn error_body(err: &Error) -> Value {
    let (code, message) = match err {
        Error::Unauthenticated => ("unauthorized", "Invalid or missing API key".to_owned()),
        Error::NotFound {
            resource: Resource::User,
            id,
        } => (
            "not_found",
            format!("User with email '{id}' does not exist in your organization"),
        ),
        Error::NotFound { resource, id } => (
            "not_found",
            format!("{} with ID '{id}' does not exist", resource.noun()),
        ),
        Error::RateLimited { retry_after, .. } => {
            return json!({
                "error": "rate_limit_exceeded",
                "message": format!("Too many requests. Please try again in {retry_after} seconds"),
                "retry_after": retry_after,
            })
        }
        Error::Invalid { field, reason } => {
            return json!({"error": "invalid_request", "message": format!("{field} {reason}"), "field": field})
        }
        Error::QuotaExceeded {
            message,
            retry_after,
        } => {
            return json!({"error": "quota_exceeded", "message": message, "retry_after": retry_after})
        }
        Error::UnsupportedMediaType => ("unsupported_media_type", err.to_string()),
        Error::PayloadTooLarge { .. } => ("payload_too_large", err.to_string()),
        Error::Conflict { message, .. } => ("conflict", message.clone()),
        Error::FailedPrecondition { message, .. } => ("failed_precondition", message.clone()),
        Error::IdempotencyInFlight => ("idempotency_key_in_use", err.to_string()),
        Error::IdempotencyMismatch => ("idempotency_key_mismatch", err.to_string()),
        Error::Unavailable { .. } => (
            "service_unavailable",
            "The service is temporarily unavailable; please retry".to_owned(),
        ),
        Error::Config(_) | Error::Internal { .. } => {
            ("internal_error", "An internal error occurred".to_owned())
        }
    };
    json!({"error": code, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_error_shapes() {
        assert_eq!(
            error_body(&Error::Unauthenticated),
            json!({"error": "unauthorized", "message": "Invalid or missing API key"})
        );
        assert_eq!(
            error_body(&Error::not_found(Resource::Flow, "flow_123abc")),
            json!({"error": "not_found", "message": "Flow with ID 'flow_123abc' does not exist"})
        );
        assert_eq!(
            error_body(&Error::not_found(Resource::User, "employee@company.com")),
            json!({"error": "not_found", "message": "User with email 'employee@company.com' does not exist in your organization"})
        );
        assert_eq!(
            error_body(&Error::RateLimited {
                retry_after: 60,
                limit: 100
            }),
            json!({"error": "rate_limit_exceeded", "message": "Too many requests. Please try again in 60 seconds", "retry_after": 60})
        );
        let invalid = error_body(&Error::invalid("userEmail", "is not a valid email address"));
        assert_eq!(invalid["error"], "invalid_request");
        assert!(invalid["message"].as_str().unwrap().contains("userEmail"));
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let body = error_body(&Error::internal("secret table detail"));
        assert!(!body.to_string().contains("secret table detail"));
    }

    #[test]
    fn assign_fields_are_typed() {
        let ok =
            parse_assign(br#"{"flowId":"flow_1","userEmail":"a@b.co","priority":null}"#).unwrap();
        assert_eq!(ok.flow_id, "flow_1");
        assert_eq!(ok.priority, None);
        for (body, field) in [
            (&br#"{"userEmail":"a@b.co"}"#[..], "flowId"),
            (br#"{"flowId":7,"userEmail":"a@b.co"}"#, "flowId"),
            (br#"{"flowId":"f","userEmail":["a@b.co"]}"#, "userEmail"),
            (
                br#"{"flowId":"f","userEmail":"a@b.co","notes":{}}"#,
                "notes",
            ),
        ] {
            match parse_assign(body) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
