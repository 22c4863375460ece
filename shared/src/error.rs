//! The one domain error. Its variant decides the HTTP status; each API family's wire module
//! decides only the body shape.

use std::fmt::Debug;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which precondition failed: decided on by type (the accept page's pages), shown by name (the
/// flows API's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    FlowCompleted,
    FlowCanceled,
    FlowExpired,
    /// The user access token names someone other than the invitee.
    NotInvitee,
}

impl Precondition {
    pub fn as_str(self) -> &'static str {
        match self {
            Precondition::FlowCompleted => "FLOW_COMPLETED",
            Precondition::FlowCanceled => "FLOW_CANCELED",
            Precondition::FlowExpired => "FLOW_EXPIRED",
            Precondition::NotInvitee => "NOT_INVITEE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Flow,
    User,
    Assignment,
    Organization,
    Key,
    Invitation,
    UserGroup,
    Delivery,
    Endpoint,
}

impl Resource {
    pub fn noun(self) -> &'static str {
        match self {
            Resource::Flow => "Flow",
            Resource::User => "User",
            Resource::Assignment => "Assignment",
            Resource::Organization => "Organization",
            Resource::Key => "Key",
            Resource::Invitation => "Invitation",
            Resource::UserGroup => "User group",
            Resource::Delivery => "Delivery",
            Resource::Endpoint => "Webhook endpoint",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Invalid or missing API key")]
    Unauthenticated,
    #[error("{} '{id}' does not exist", resource.noun())]
    NotFound { resource: Resource, id: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("Too many requests. Please try again in {retry_after} seconds")]
    RateLimited { retry_after: u64, limit: u32 },
    #[error("{message}")]
    Conflict {
        reason: &'static str,
        message: String,
    },
    /// The operation is not allowed in the resource's current state (gRPC FAILED_PRECONDITION).
    #[error("{message}")]
    FailedPrecondition {
        reason: Precondition,
        message: String,
    },
    #[error("A request with this Idempotency-Key is still being processed")]
    IdempotencyInFlight,
    #[error("This Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("A dependency is unavailable: {0}")]
    Unavailable(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(resource: Resource, id: impl Into<String>) -> Self {
        Error::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid { .. } | Error::FailedPrecondition { .. } => 400,
            Error::Unauthenticated => 401,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } | Error::IdempotencyInFlight => 409,
            Error::PayloadTooLarge { .. } => 413,
            Error::UnsupportedMediaType => 415,
            Error::IdempotencyMismatch => 422,
            Error::RateLimited { .. } => 429,
            Error::Unavailable(_) => 503,
            Error::Config(_) | Error::Internal(_) => 500,
        }
    }
}

/// Any AWS SDK failure is a dependency failure: the caller may retry, nothing it sent caused it.
/// The detail names the call (`dynamodb::update_item`), the service's code and message or the
/// whole chain of causes, and where in our code it failed (`?` passes its own place here), so a
/// logged 503 says which call failed and where.
impl<E, R> From<aws_smithy_runtime_api::client::result::SdkError<E, R>> for Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug + Send + Sync + 'static,
{
    #[track_caller]
    fn from(err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Self {
        let site = std::panic::Location::caller();
        let cause = match err.as_service_error() {
            Some(service) => format!(
                "{}: {}",
                service.code().unwrap_or("unknown"),
                service.message().unwrap_or("")
            ),
            None => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        };
        Error::Unavailable(format!(
            "{} failed: {cause} (at {}:{})",
            operation_of::<E>(),
            site.file(),
            site.line()
        ))
    }
}

/// `dynamodb::update_item` from the SDK's `aws_sdk_dynamodb::operation::update_item::UpdateItemError`.
fn operation_of<E>() -> String {
    let path = std::any::type_name::<E>();
    let mut parts = path.split("::");
    let service = parts.next().unwrap_or(path).trim_start_matches("aws_sdk_");
    match parts.nth(1) {
        Some(operation) => format!("{service}::{operation}"),
        None => path.to_owned(),
    }
}

impl From<serde_dynamo::Error> for Error {
    fn from(err: serde_dynamo::Error) -> Self {
        Error::Internal(format!("item mapping: {err}"))
    }
}
