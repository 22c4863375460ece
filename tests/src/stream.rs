//! The relay's event source as Lambda runs it, on the emulator's table stream: records read
//! with DynamoDB Streams' own API (GetShardIterator, GetRecords), filtered by the template's
//! FilterCriteria, handed to the relay as DynamoDB stream events in batches of the template's
//! BatchSize, one batch at a time; after a batch whose response names failed records, the next
//! starts at the first of them (ReportBatchItemFailures); a batch still failing after the
//! template's MaximumRetryAttempts (-1: never) is given up and described to the on-failure
//! destination.
//! `inflow_dev.sources` does the same for `make dev`.

use serde_json::{json, Value};
use serde_yaml::Value as Yaml;

/// Retries of one batch after which a pump calls its shard stuck (the template retries forever;
/// a test's outage is far shorter).
const STUCK_AFTER: usize = 100;

/// The relay's event source settings, read from template.yaml.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub batch_size: usize,
    /// `None`: retried for as long as the stream keeps the record (the template's -1).
    pub max_retries: Option<usize>,
    /// `None`: the stream's own 24 hours (-1). Only read to check the template's choice: the
    /// pumps here last seconds.
    pub max_record_age_secs: Option<u64>,
    /// The FilterCriteria patterns; a record passes when it matches any.
    pub filters: Vec<Value>,
}

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

impl SourceSettings {
    pub fn from_template() -> Self {
        let text = std::fs::read_to_string(TEMPLATE).expect("template.yaml");
        let doc: Yaml = serde_yaml::from_str(&text).expect("template.yaml is YAML");
        let props =
            &doc["Resources"]["RelayFunction"]["Properties"]["Events"]["Stream"]["Properties"];
        // A number, or a `!Ref` to a parameter: its default.
        let number = |name: &str| {
            let value = match &props[name] {
                Yaml::Tagged(tagged) if tagged.tag == "!Ref" => {
                    let parameter = tagged.value.as_str().unwrap_or_default();
                    doc["Parameters"][parameter]["Default"].clone()
                }
                value => value.clone(),
            };
            value
                .as_i64()
                .unwrap_or_else(|| panic!("RelayFunction's stream event has no {name}"))
        };
        let unless_infinite = |n: i64| u64::try_from(n).ok();
        let filters = props["FilterCriteria"]["Filters"]
            .as_sequence()
            .expect("RelayFunction's stream event has FilterCriteria")
            .iter()
            .map(|f| {
                serde_json::from_str(f["Pattern"].as_str().expect("a Pattern string"))
                    .expect("a Pattern is JSON")
            })
            .collect();
        Self {
            batch_size: number("BatchSize") as usize,
            max_retries: unless_infinite(number("MaximumRetryAttempts")).map(|n| n as usize),
            max_record_age_secs: unless_infinite(number("MaximumRecordAgeInSeconds")),
            filters,
        }
    }
}

/// Whether a stream record matches one of Lambda's event filter patterns (the subset the
/// template uses: nested objects, lists of literal values, `exists` and `prefix`).
pub fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, p)| matches(p, event.get(name).unwrap_or(&Value::Null))),
        Value::Array(options) => options.iter().any(|option| match option {
            Value::Object(op) => match (op.get("exists"), op.get("prefix")) {
                (Some(Value::Bool(exists)), _) => *exists != event.is_null(),
                (_, Some(Value::String(prefix))) => event
                    .as_str()
                    .is_some_and(|s| s.starts_with(prefix.as_str())),
                _ => false,
            },
            literal => literal == event,
        }),
        _ => false,
    }
}

/// What one pump did.
#[derive(Debug, Default)]
pub struct Pumped {
    pub invocations: usize,
    pub records: usize,
    /// The batches given up on, as Lambda describes them to the on-failure destination.
    pub given_up: Vec<Value>,
}

/// The table's stream, read from the last record handed over.
pub struct StreamSource {
    endpoint: String,
    stream_arn: String,
    settings: SourceSettings,
    http: reqwest::Client,
    /// The sequence number of the last record read; records after it are unread.
    checkpoint: tokio::sync::Mutex<Option<String>>,
}

impl StreamSource {
    pub fn new(endpoint: &str, stream_arn: &str, settings: SourceSettings) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            stream_arn: stream_arn.to_owned(),
            settings,
            http: reqwest::Client::new(),
            checkpoint: tokio::sync::Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &SourceSettings {
        &self.settings
    }

    /// One DynamoDB Streams call against the emulator.
    async fn call(&self, action: &str, body: Value) -> Value {
        let res = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .expect("the emulator answers");
        let status = res.status();
        let text = res.text().await.expect("a body");
        assert!(status.is_success(), "{action}: {status} {text}");
        serde_json::from_str(&text).expect("a JSON answer")
    }

    /// Every record after `after` (all of them when `None`), in order.
    pub async fn records_after(&self, after: Option<&str>) -> Vec<Value> {
        let described = self
            .call("DescribeStream", json!({"StreamArn": self.stream_arn}))
            .await;
        let shard = described["StreamDescription"]["Shards"][0]["ShardId"]
            .as_str()
            .expect("a shard")
            .to_owned();
        let mut request = json!({"StreamArn": self.stream_arn, "ShardId": shard});
        match after {
            Some(seq) => {
                request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                request["SequenceNumber"] = json!(seq);
            }
            None => request["ShardIteratorType"] = json!("TRIM_HORIZON"),
        }
        let mut iterator = self.call("GetShardIterator", request).await["ShardIterator"].clone();
        let mut records = Vec::new();
        loop {
            let page = self
                .call(
                    "GetRecords",
                    json!({"ShardIterator": iterator, "Limit": 1000}),
                )
                .await;
            let found = page["Records"].as_array().cloned().unwrap_or_default();
            if found.is_empty() {
                return records;
            }
            records.extend(found.into_iter().map(|mut r| {
                r["eventSourceARN"] = json!(self.stream_arn);
                r
            }));
            iterator = page["NextShardIterator"].clone();
        }
    }

    /// Hands every unread record that passes the filter to `invoke` (a DynamoDB stream event in,
    /// the function's JSON answer out), as the event source would, until none is left.
    pub async fn pump<F, Fut>(&self, invoke: F) -> Pumped
    where
        F: Fn(Value) -> Fut,
        Fut: std::future::Future<Output = Value>,
    {
        self.pump_with(&self.settings, invoke).await
    }

    /// [`pump`](Self::pump) under other settings (an operator's finite retries).
    pub async fn pump_with<F, Fut>(&self, settings: &SourceSettings, invoke: F) -> Pumped
    where
        F: Fn(Value) -> Fut,
        Fut: std::future::Future<Output = Value>,
    {
        let mut checkpoint = self.checkpoint.lock().await;
        let read = self.records_after(checkpoint.as_deref()).await;
        if let Some(last) = read.last() {
            *checkpoint = Some(sequence_number(last).to_owned());
        }
        let mut pending: std::collections::VecDeque<Value> = read
            .into_iter()
            .filter(|r| settings.filters.iter().any(|p| matches(p, r)))
            .collect();
        let mut pumped = Pumped {
            records: pending.len(),
            ..Pumped::default()
        };
        let mut retries = 0;
        while !pending.is_empty() {
            let size = pending.len().min(settings.batch_size);
            let batch: Vec<Value> = pending.iter().take(size).cloned().collect();
            pumped.invocations += 1;
            let answer = invoke(json!({ "Records": batch })).await;
            let failed: Vec<&str> = answer["batchItemFailures"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|f| f["itemIdentifier"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            // Lambda resumes at the first failed record (an unknown identifier fails the batch).
            let first = failed
                .iter()
                .map(|id| {
                    batch
                        .iter()
                        .position(|r| sequence_number(r) == *id)
                        .unwrap_or(0)
                })
                .min();
            match first {
                None => {
                    pending.drain(..size);
                    retries = 0;
                }
                Some(first) => {
                    pending.drain(..first);
                    retries = if first > 0 { 1 } else { retries + 1 };
                    // Infinite retries: a record that fails this often holds its shard for good.
                    assert!(
                        retries <= STUCK_AFTER,
                        "a batch failed {STUCK_AFTER} times in a row: its shard is stuck"
                    );
                    if settings.max_retries.is_some_and(|max| retries > max) {
                        let size = pending.len().min(settings.batch_size);
                        let given_up: Vec<Value> = pending.drain(..size).collect();
                        pumped.given_up.push(self.batch_info(&given_up, settings));
                        retries = 0;
                    }
                }
            }
        }
        pumped
    }

    /// What Lambda sends an on-failure destination for a stream batch it gave up on.
    fn batch_info(&self, batch: &[Value], settings: &SourceSettings) -> Value {
        let first = batch.first().cloned().unwrap_or(Value::Null);
        let last = batch.last().cloned().unwrap_or(Value::Null);
        json!({
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": settings.max_retries.unwrap_or(0) + 1},
            "DDBStreamBatchInfo": {
                "shardId": "shardId-00000001541626099285-f35f62ef",
                "startSequenceNumber": sequence_number(&first),
                "endSequenceNumber": sequence_number(&last),
                "approximateArrivalOfFirstRecord": first["dynamodb"]["ApproximateCreationDateTime"],
                "approximateArrivalOfLastRecord": last["dynamodb"]["ApproximateCreationDateTime"],
                "batchSize": batch.len(),
                "streamArn": self.stream_arn,
            },
        })
    }
}

fn sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_lambda_filters_do() {
        let pattern = json!({"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"outbox_id": {"S": [{"exists": true}]}}}});
        let record =
            |name: &str, image: Value| json!({"eventName": name, "dynamodb": {"NewImage": image}});
        let with = json!({"outbox_id": {"S": "obx_1"}, "PK": {"S": "x"}});
        let without = json!({"PK": {"S": "x"}});
        assert!(matches(&pattern, &record("INSERT", with.clone())));
        assert!(matches(&pattern, &record("MODIFY", with.clone())));
        assert!(!matches(&pattern, &record("REMOVE", with)));
        assert!(!matches(&pattern, &record("INSERT", without)));
        assert!(!matches(&pattern, &json!({"eventName": "INSERT"})));
        let prefix = json!({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "INV#"}]}}}});
        assert!(matches(
            &prefix,
            &json!({"dynamodb": {"Keys": {"SK": {"S": "INV#1"}}}})
        ));
        assert!(!matches(
            &prefix,
            &json!({"dynamodb": {"Keys": {"SK": {"S": "ASGN#1"}}}})
        ));
    }

    #[test]
    fn the_template_configures_the_relay_source() {
        let s = SourceSettings::from_template();
        assert!(s.batch_size >= 1);
        assert_eq!(
            (s.max_retries, s.max_record_age_secs),
            (None, None),
            "the relay retries for as long as the stream keeps a record"
        );
        assert!(!s.filters.is_empty());
    }
}
