//! Everything a function needs, built once per container and shared by reference. No queue:
//! requests write their jobs to the table (`crate::jobs`), and only the relay and the webhook
//! worker hold a queue client (`crate::queue`).

use crate::{
    config::Config,
    error::Error,
    keys::{load_app_secret, Hasher, Sealer},
    store::Table,
};

/// Cloning shares the clients' connection pools (the SDK clients are handles).
#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub table: Table,
    pub hasher: Hasher,
    pub sealer: Sealer,
}

impl App {
    /// Builds the clients from the standard AWS configuration chain and reads the app secret,
    /// and opens the DynamoDB connection meanwhile (see [`Table::warm_up`]).
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        Self::build(config, &sdk_config().await?, true).await
    }

    pub async fn new(config: Config, sdk: &aws_config::SdkConfig) -> Result<Self, Error> {
        Self::build(config, sdk, false).await
    }

    async fn build(config: Config, sdk: &aws_config::SdkConfig, warm: bool) -> Result<Self, Error> {
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        let table = Table::new(sdk, &config.table_name);
        let (secret, ()) = tokio::join!(load_app_secret(&secrets, &config.app_secret_id), async {
            if warm {
                table.warm_up().await;
            }
        });
        let secret = secret?;
        Ok(Self {
            table,
            hasher: Hasher::from_secret(&secret),
            sealer: Sealer::from_secret(&secret),
            config,
        })
    }
}

/// The AWS configuration of a function: region and credentials from the environment, where
/// Lambda puts them, and our HTTPS client (see [`crate::tls`]). The default chains would build
/// an STS client (for web identity) and an IMDS client at init, which a function never uses:
/// a sixth of init's instructions (docs/bench/profiles.md).
pub async fn sdk_config() -> Result<aws_config::SdkConfig, Error> {
    use aws_config::environment::{
        EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
    };
    Ok(aws_config::from_env()
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(crate::tls::http_client()?)
        .load()
        .await)
}
