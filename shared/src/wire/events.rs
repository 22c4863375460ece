//! The `data` of each event, rendered by the relay from the record it describes as written
//! (the webhook payloads of openapi.yaml's `webhooks:`).

use serde_json::{json, Value};

use super::{opt_time, time};
use crate::{
    jobs::EventKind,
    model::{Assignment, Invitation, InvitationKind},
};

/// Every `flow.*` event (`flow.overdue` adds `overdueAt`).
pub fn assignment_data(kind: EventKind, a: &Assignment) -> Value {
    let mut data = json!({
        "assignmentId": a.id,
        "flowId": a.flow_id,
        "flowName": a.flow_name,
        "userId": a.user_id,
        "userEmail": a.user_email,
        "priority": a.priority.as_str(),
        "dueDate": opt_time(a.due_date),
        "assignedAt": time(a.assigned_at),
        "startedAt": opt_time(a.started_at),
        "completedAt": opt_time(a.completed_at),
    });
    if kind == EventKind::FlowOverdue {
        data["overdueAt"] = opt_time(a.overdue_at);
    }
    data
}

/// Every `invitation.*` event.
pub fn invitation_data(inv: &Invitation) -> Value {
    json!({
        "invitationId": inv.id,
        "type": match inv.kind {
            InvitationKind::JoinOrganization => "JOIN_ORGANIZATION",
            InvitationKind::Signup => "SIGNUP",
        },
        "email": inv.email,
        "flowId": inv.flow_id,
        "number": inv.number,
        "userId": inv.user_id,
        "expireTime": time(inv.expire_time),
        "startTime": opt_time(inv.start_time),
    })
}
