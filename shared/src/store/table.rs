//! The handle every store function takes: the DynamoDB client and the table's name, which never
//! travel apart.

use aws_sdk_dynamodb::Client;

/// Cloning shares the client's connection pool (the SDK client is a handle).
#[derive(Clone, Debug)]
pub struct Table {
    pub(crate) ddb: Client,
    pub(crate) name: String,
}

impl Table {
    pub fn new(sdk: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        Table {
            ddb: Client::new(sdk),
            name: name.into(),
        }
    }

    /// The same table through another client (one with interceptors, in tests and the bench).
    pub fn with_client(&self, ddb: Client) -> Table {
        Table {
            ddb,
            name: self.name.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw client, for tools and tests that read the table as it is (scans, counts).
    pub fn client(&self) -> &Client {
        &self.ddb
    }

    /// One GetItem of a key that never exists, so the TCP + TLS set-up to DynamoDB happens
    /// during init (beside the secret read) rather than in the first request, where a 128 MB
    /// function has a fraction of a vCPU (docs/bench/benchmarks.md measures the handshake). Its
    /// outcome is ignored: a failure here only means the first request opens the connection.
    pub(crate) async fn warm_up(&self) {
        let _ = self
            .ddb
            .get_item()
            .table_name(&self.name)
            .set_key(Some(super::key("WARMUP".into(), "WARMUP")))
            .send()
            .await;
    }
}
