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

/// Why a request conflicts with what exists: shown by name where a family shows a reason (the
/// flows API's `reason`), and decided on by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The resource the request would create exists (an organization's slug, a user group).
    AlreadyExists,
    AlreadyCompleted,
    /// The invitation was accepted: it cannot be re-sent.
    AlreadyAccepted,
    /// The invitation was accepted: it cannot be canceled.
    Accepted,
    /// A replay while the delivery's previous attempt is still pending.
    Pending,
    /// The organization has as many webhook endpoints as it may.
    LimitReached,
    /// The organization has as many webhook endpoints on one host as it may.
    HostLimitReached,
    /// A test event to a disabled endpoint.
    Disabled,
    /// The token presented as current was rotated away.
    TokenRotated,
}

impl Conflict {
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::AlreadyExists => "already_exists",
            Conflict::AlreadyCompleted => "already_completed",
            Conflict::AlreadyAccepted => "already_accepted",
            Conflict::Accepted => "accepted",
            Conflict::Pending => "pending",
            Conflict::LimitReached => "limit_reached",
            Conflict::HostLimitReached => "host_limit_reached",
            Conflict::Disabled => "disabled",
            Conflict::TokenRotated => "token_rotated",
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
    WebhookEndpoint,
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
            Resource::WebhookEndpoint => "Webhook endpoint",
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
    /// A budget of the organization's is spent until it renews (its daily emails): a 429 with
    /// the time left, not a rate limit of its key.
    #[error("{message}")]
    QuotaExceeded { message: String, retry_after: u64 },
    #[error("{message}")]
    Conflict { reason: Conflict, message: String },
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
    /// A dependency failed or is too busy: the caller may retry (503).
    #[error("A dependency is unavailable: {what} (at {at})")]
    Unavailable {
        what: String,
        at: Site,
        #[source]
        source: Option<Cause>,
    },
    #[error("configuration error: {0}")]
    Config(String),
    /// A fault of ours or of stored data: no retry helps (500).
    #[error("internal error: {what} (at {at})")]
    Internal {
        what: String,
        at: Site,
        #[source]
        source: Option<Cause>,
    },
}

/// What caused an [`Error::Unavailable`] or [`Error::Internal`]: the underlying error, kept
/// whole so that a log shows its chain ([`Error::chain`]).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The line of our code an error was made at (`#[track_caller]` passes the caller's).
pub type Site = &'static std::panic::Location<'static>;

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

    /// A dependency failure with no underlying error of its own (contention, a refused job).
    #[track_caller]
    pub fn unavailable(what: impl Into<String>) -> Self {
        Error::Unavailable {
            what: what.into(),
            at: std::panic::Location::caller(),
            source: None,
        }
    }

    /// An internal fault with no underlying error of its own (a malformed stored item).
    #[track_caller]
    pub fn internal(what: impl Into<String>) -> Self {
        Error::Internal {
            what: what.into(),
            at: std::panic::Location::caller(),
            source: None,
        }
    }

    /// An internal fault caused by `source` (a serializer, a codec, a signer), which stays
    /// reachable through [`std::error::Error::source`].
    #[track_caller]
    pub fn internal_from(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            what: what.into(),
            at: std::panic::Location::caller(),
            source: Some(Box::new(source)),
        }
    }

    /// The error and its causes, `outer: inner: innermost`: what a log line shows.
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
    }

    /// The variant's name: the `errorType` Lambda records for a failed invocation.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "Unauthenticated",
            Error::NotFound { .. } => "NotFound",
            Error::Invalid { .. } => "Invalid",
            Error::UnsupportedMediaType => "UnsupportedMediaType",
            Error::PayloadTooLarge { .. } => "PayloadTooLarge",
            Error::RateLimited { .. } => "RateLimited",
            Error::QuotaExceeded { .. } => "QuotaExceeded",
            Error::Conflict { .. } => "Conflict",
            Error::FailedPrecondition { .. } => "FailedPrecondition",
            Error::IdempotencyInFlight => "IdempotencyInFlight",
            Error::IdempotencyMismatch => "IdempotencyMismatch",
            Error::Unavailable { .. } => "Unavailable",
            Error::Config(_) => "Config",
            Error::Internal { .. } => "Internal",
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
            Error::RateLimited { .. } | Error::QuotaExceeded { .. } => 429,
            Error::Unavailable { .. } => 503,
            Error::Config(_) | Error::Internal { .. } => 500,
        }
    }
}

/// An error and its sources on one line (see [`Error::chain`]).
pub struct Chain<'a>(&'a Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

/// A worker's failed invocation as Lambda records it: the variant as `errorType`, the chain as
/// `errorMessage`, so a dashboard can count Unavailable apart from Internal.
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_owned(),
            error_message: err.chain().to_string(),
        }
    }
}

/// Any AWS SDK failure is a dependency failure: the caller may retry, nothing it sent caused it.
/// The detail names the call (`dynamodb::update_item`), the service's code and message or the
/// whole chain of causes, and where in our code it failed (`?` passes its own place here), so a
/// logged 503 says which call failed and where.
impl<E, R> From<aws_smithy_runtime_api::client::result::SdkError<E, R>> for Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: Debug + Send + Sync + 'static,
{
    #[track_caller]
    fn from(err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Self {
        let at = std::panic::Location::caller();
        let what = match err.as_service_error() {
            Some(service) => format!(
                "{} failed: {}: {}",
                operation_of::<E>(),
                service.code().unwrap_or("unknown"),
                service.message().unwrap_or("")
            ),
            None => format!("{} failed", operation_of::<E>()),
        };
        Error::Unavailable {
            what,
            at,
            source: Some(Box::new(err)),
        }
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
    #[track_caller]
    fn from(err: serde_dynamo::Error) -> Self {
        Error::internal_from("item mapping", err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_keeps_its_cause_and_site() {
        let cause = serde_json::from_str::<u8>("x").expect_err("not JSON");
        let err = Error::internal_from("reading a job", cause);
        assert_eq!(err.status(), 500);
        assert_eq!(err.kind(), "Internal");
        let shown = err.to_string();
        assert!(
            shown.starts_with("internal error: reading a job (at shared/src/error.rs:"),
            "{shown}"
        );
        let chain = err.chain().to_string();
        assert!(chain.starts_with(&shown), "{chain}");
        assert!(chain.contains(": expected value"), "{chain}");
    }

    #[test]
    fn an_error_without_a_cause_is_its_own_chain() {
        let err = Error::unavailable("consume contention");
        assert_eq!(err.status(), 503);
        assert!(std::error::Error::source(&err).is_none());
        assert_eq!(err.chain().to_string(), err.to_string());
    }

    #[test]
    fn lambda_records_the_variant() {
        let d = lambda_runtime::Diagnostic::from(Error::not_found(Resource::Flow, "f1"));
        assert_eq!(d.error_type, "NotFound");
        assert_eq!(d.error_message, "Flow 'f1' does not exist");
    }
}
