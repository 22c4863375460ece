//! What every SQS-driven worker shares: records handled concurrently, and a partial batch
//! response naming only the messages that failed (never failing the whole batch).

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use crate::error::Error;

/// Runs `handle` on every record; a record whose handling fails is reported for redelivery.
pub async fn process_batch<'a, F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Error>> + 'a,
{
    let results = futures::future::join_all(event.records.into_iter().map(|message| {
        let id = message.message_id.clone().unwrap_or_default();
        let request_id = message
            .message_attributes
            .get("request_id")
            .and_then(|a| a.string_value.clone())
            .unwrap_or_default();
        let span = tracing::info_span!("job", message_id = %id, request_id = %request_id);
        let fut = handle(message);
        async move { (id, tracing::Instrument::instrument(fut, span).await) }
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (id, result) in results {
        if let Err(err) = result {
            tracing::warn!(message_id = %id, kind = err.kind(), error = %err.chain(), "job failed; SQS will redeliver it");
            response.add_failure(id);
        }
    }
    response
}
