//! The queue port: every SQS send goes through here. Its callers are the relay (the jobs that
//! writes recorded) and the webhook worker (its retries, fan-out splits and dead letters).
//! No request path has a queue.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use std::time::Duration;

use crate::{config::vars, error::Error};

/// A message body we send at most. SQS takes 1 MiB (1,048,576 bytes) per message and per
/// SendMessageBatch call, message attributes included.
pub const MESSAGE_BYTES: usize = 1_000_000;

/// The job queues, by URL.
#[derive(Clone)]
pub struct Queues {
    sqs: aws_sdk_sqs::Client,
    pub webhook_url: String,
    pub email_url: String,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub body: String,
    /// The request that caused it, as the `request_id` attribute (for tracing).
    pub request_id: Option<String>,
    /// Seconds SQS holds it back (at most 900).
    pub delay_secs: i32,
    /// Its message group: an organization's lane ([`crate::jobs::Lane::group`]). On a standard
    /// queue this is SQS's fair-queue tenant: a group with a backlog does not hold up the others'
    /// messages. Sent as `MessageGroupId` and as the `group` attribute, which the workers read to
    /// keep their follow-up messages (retries, splits) in the same group.
    pub group: Option<String>,
}

/// The message attribute that names a message's group.
pub const GROUP_ATTRIBUTE: &str = "group";

impl Message {
    pub fn new(body: String, request_id: Option<String>) -> Self {
        Self {
            body,
            request_id,
            delay_secs: 0,
            group: None,
        }
    }

    pub fn in_group(self, group: Option<String>) -> Self {
        Self { group, ..self }
    }
}

/// The group a received message was sent in (its `group` attribute).
pub fn group_of(message: &aws_lambda_events::event::sqs::SqsMessage) -> Option<String> {
    message
        .message_attributes
        .get(GROUP_ATTRIBUTE)
        .and_then(|a| a.string_value.clone())
}

impl Queues {
    pub fn new(sqs: aws_sdk_sqs::Client, webhook_url: String, email_url: String) -> Self {
        Self {
            sqs,
            webhook_url,
            email_url,
        }
    }

    /// The queues of `WEBHOOK_QUEUE_URL` and `EMAIL_QUEUE_URL`; a missing one fails init.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, Error> {
        Self::from_env_with(aws_sdk_sqs::Client::new(sdk))
    }

    /// The same queues, each call retried at `backoff`'s waits ([`config_with`]).
    pub fn from_env_backing_off(
        sdk: &aws_config::SdkConfig,
        backoff: &Backoff,
    ) -> Result<Self, Error> {
        Self::from_env_with(aws_sdk_sqs::Client::from_conf(
            config_with(sdk, backoff).build(),
        ))
    }

    fn from_env_with(sqs: aws_sdk_sqs::Client) -> Result<Self, Error> {
        Ok(Self::new(
            sqs,
            crate::config::required(vars::WEBHOOK_QUEUE_URL)?,
            crate::config::required(vars::EMAIL_QUEUE_URL)?,
        ))
    }

    /// Sends messages with SendMessageBatch, 10 and [`MESSAGE_BYTES`] a call, the calls at
    /// once. Returns, per message in order, whether SQS took it.
    pub async fn send(&self, queue_url: &str, messages: &[Message]) -> Vec<Result<(), Error>> {
        let calls = batches(messages, MESSAGE_BYTES)
            .into_iter()
            .map(|range| async move {
                (
                    range.clone(),
                    self.send_batch(queue_url, &messages[range]).await,
                )
            });
        let mut results: Vec<Result<(), Error>> = messages.iter().map(|_| Ok(())).collect();
        for (range, sent) in futures::future::join_all(calls).await {
            for (slot, result) in results[range].iter_mut().zip(sent) {
                *slot = result;
            }
        }
        results
    }

    /// One message; for the worker's own retries and dead letters.
    pub async fn send_one(&self, queue_url: &str, message: Message) -> Result<(), Error> {
        let mut send = self
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(message.body)
            .delay_seconds(message.delay_secs);
        if let Some(request_id) = &message.request_id {
            send = send.message_attributes("request_id", string_attribute(request_id)?);
        }
        if let Some(group) = &message.group {
            send = send
                .message_group_id(group)
                .message_attributes(GROUP_ATTRIBUTE, string_attribute(group)?);
        }
        send.send().await?;
        self.count(queue_url, 1);
        Ok(())
    }

    async fn send_batch(&self, queue_url: &str, messages: &[Message]) -> Vec<Result<(), Error>> {
        match self.try_send_batch(queue_url, messages).await {
            Ok(failed) => {
                self.count(queue_url, messages.len() - failed.len());
                (0..messages.len())
                    .map(|i| match failed.contains(&i) {
                        true => Err(Error::unavailable("the queue refused the job")),
                        false => Ok(()),
                    })
                    .collect()
            }
            Err(err) => {
                let why = err.to_string();
                messages
                    .iter()
                    .map(|_| Err(Error::unavailable(why.clone())))
                    .collect()
            }
        }
    }

    /// The indices of the messages SQS did not take.
    async fn try_send_batch(
        &self,
        queue_url: &str,
        messages: &[Message],
    ) -> Result<Vec<usize>, Error> {
        let mut entries = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(&message.body)
                .delay_seconds(message.delay_secs);
            if let Some(request_id) = &message.request_id {
                entry = entry.message_attributes("request_id", string_attribute(request_id)?);
            }
            if let Some(group) = &message.group {
                entry = entry
                    .message_group_id(group)
                    .message_attributes(GROUP_ATTRIBUTE, string_attribute(group)?);
            }
            entries.push(
                entry
                    .build()
                    .map_err(|e| Error::internal_from("building an SQS batch entry", e))?,
            );
        }
        let out = self
            .sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        Ok(out
            .failed
            .iter()
            .filter_map(|f| f.id.parse().ok())
            .collect())
    }

    fn count(&self, queue_url: &str, sent: usize) {
        let queue = if queue_url == self.email_url {
            "email"
        } else if queue_url == self.webhook_url {
            "webhook"
        } else {
            "other"
        };
        crate::metrics::count("JobsQueued", sent as u64, &[("Queue", queue)]);
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, Error> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::internal_from("building an SQS batch entry", e))
}

/// Consecutive runs of at most 10 messages and at most `limit` bytes (a message alone may be more).
fn batches(messages: &[Message], limit: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, message) in messages.iter().enumerate() {
        if i > start && (i - start == 10 || bytes + message.body.len() > limit) {
            runs.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += message.body.len();
    }
    if start < messages.len() {
        runs.push(start..messages.len());
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_ten_messages_and_the_byte_limit() {
        let message = |n: usize| Message::new("x".repeat(n), None);
        let sizes = |messages: &[Message], limit| -> Vec<usize> {
            batches(messages, limit).iter().map(|r| r.len()).collect()
        };
        let small: Vec<Message> = (0..25).map(|_| message(10)).collect();
        assert_eq!(sizes(&small, 1000), vec![10, 10, 5]);
        let big: Vec<Message> = (0..5).map(|_| message(400)).collect();
        assert_eq!(sizes(&big, 1000), vec![2, 2, 1]);
        let huge = vec![message(5000), message(10)];
        assert_eq!(sizes(&huge, 1000), vec![1, 1], "too big alone: SQS says so");
        assert!(batches(&[], 1000).is_empty());
    }
}

/// How an SQS client retries one call.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Attempts of one call, the first included.
    pub attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    /// The most one call may take, its retries and their waits included.
    pub operation: Duration,
}

/// An SQS client's config with the SDK's standard retries at `backoff`'s waits, and no retry
/// quota: the SDK's default token bucket stops retrying after a hundred or so failures, which
/// an outage of any length would spend, and a caller that must outlast one (the relay) should
/// wait before each give-up.
pub fn config_with(sdk: &aws_config::SdkConfig, backoff: &Backoff) -> aws_sdk_sqs::config::Builder {
    use aws_sdk_sqs::config::{
        retry::{RetryConfig, RetryPartition, TokenBucket},
        timeout::TimeoutConfig,
    };
    aws_sdk_sqs::config::Builder::from(sdk)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(backoff.attempts)
                .with_initial_backoff(backoff.initial)
                .with_max_backoff(backoff.max),
        )
        .retry_partition(
            RetryPartition::custom("inflow-outlasting")
                .token_bucket(TokenBucket::unlimited())
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(backoff.operation)
                .build(),
        )
}
