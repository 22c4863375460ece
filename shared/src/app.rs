//! Everything a function needs, built once per container and shared by reference.

use crate::{
    config::Config,
    error::Error,
    keys::{load_app_secret, Hasher, Sealer},
};

pub struct App {
    pub config: Config,
    pub ddb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub hasher: Hasher,
    pub sealer: Sealer,
}

impl App {
    /// Builds the clients from the standard AWS configuration chain and reads the app secret.
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_from_env().await;
        Self::new(config, &sdk).await
    }

    pub async fn new(config: Config, sdk: &aws_config::SdkConfig) -> Result<Self, Error> {
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        let secret = load_app_secret(&secrets, &config.app_secret_id).await?;
        Ok(Self {
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            hasher: Hasher::from_secret(&secret),
            sealer: Sealer::from_secret(&secret),
            config,
        })
    }
}
