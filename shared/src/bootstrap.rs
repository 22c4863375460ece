//! Creating what the functions need in an account or emulator: the table (with its stream), the
//! queues with their dead-letter queues, the relay's dead-letter queue, and the app secret.
//! Idempotent.

use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;

use crate::{error::Error, ids, store::schema};

/// Names of everything bootstrap makes.
#[derive(Debug, Clone)]
pub struct Names {
    pub table: String,
    pub webhook_queue: String,
    pub email_queue: String,
    /// Where the relay's event source puts what it gave up on (template.yaml's RelayDLQ).
    pub relay_dlq: String,
    pub secret_id: String,
}

impl Names {
    /// The defaults `make dev` and `inflowctl` use.
    pub fn defaults() -> Self {
        Self::with_prefix("inflow")
    }

    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            table: prefix.to_owned(),
            webhook_queue: format!("{prefix}-webhooks"),
            email_queue: format!("{prefix}-email"),
            relay_dlq: format!("{prefix}-relay-dlq"),
            secret_id: format!("{prefix}/app-secret"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrapped {
    pub table: String,
    pub table_created: bool,
    pub webhook_queue_url: String,
    pub email_queue_url: String,
    pub relay_dlq_url: String,
    pub secret_id: String,
    pub secret_created: bool,
}

/// Attempts before a message goes to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 5;
/// Six times the workers' timeout (30 s), as AWS recommends for SQS event sources.
pub const VISIBILITY_TIMEOUT_SECS: u32 = 180;

pub async fn ensure_all(sdk: &aws_config::SdkConfig, names: &Names) -> Result<Bootstrapped, Error> {
    let table = crate::store::Table::new(sdk, &names.table);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let table_created = schema::ensure_table(&table).await?;
    let webhook_queue_url = ensure_queue_with_dlq(&sqs, &names.webhook_queue).await?;
    let email_queue_url = ensure_queue_with_dlq(&sqs, &names.email_queue).await?;
    let relay_dlq_url = ensure_dlq(&sqs, &names.relay_dlq).await?;
    let secret_created = ensure_secret(&secrets, &names.secret_id).await?;
    Ok(Bootstrapped {
        table: names.table.clone(),
        table_created,
        webhook_queue_url,
        email_queue_url,
        relay_dlq_url,
        secret_id: names.secret_id.clone(),
        secret_created,
    })
}

/// A dead-letter queue: kept 14 days, SQS's longest.
async fn ensure_dlq(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, Error> {
    sqs.create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await?
        .queue_url
        .ok_or_else(|| Error::internal("CreateQueue returned no URL"))
}

async fn ensure_queue_with_dlq(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, Error> {
    let dlq_url = ensure_dlq(sqs, &format!("{name}-dlq")).await?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| Error::internal("dead-letter queue has no ARN"))?;
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})
            .to_string();
    sqs.create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_SECS.to_string(),
        )
        .send()
        .await?
        .queue_url
        .ok_or_else(|| Error::internal("CreateQueue returned no URL"))
}

async fn ensure_secret(secrets: &aws_sdk_secretsmanager::Client, id: &str) -> Result<bool, Error> {
    if secrets.describe_secret().secret_id(id).send().await.is_ok() {
        return Ok(false);
    }
    secrets
        .create_secret()
        .name(id)
        .secret_string(ids::random(48))
        .send()
        .await?;
    Ok(true)
}
