//! Where `inflowctl` finds the table, queues and secret: a CloudFormation stack's outputs
//! (`--stack NAME` / `INFLOW_STACK`), else the functions' environment variables, else, against a
//! local emulator only, the names `make dev` uses.
//!
//! Against a real account a missing name is an error, never the local default: a forgotten
//! variable must not silently point the operator at a table called `inflow` that may belong to
//! something else (or create one, for `bootstrap`).

use std::collections::BTreeMap;

use inflow::{bootstrap::Names, config::vars, Error};
use serde::Serialize;

/// The variables `inflowctl` reads and the stack output that holds each (template.yaml Outputs).
pub const FROM_OUTPUTS: &[(&str, &str)] = &[
    (vars::TABLE_NAME, "TableName"),
    (vars::APP_SECRET_ID, "AppSecretArn"),
    (vars::WEBHOOK_QUEUE_URL, "WebhookQueueUrl"),
    (vars::EMAIL_QUEUE_URL, "EmailQueueUrl"),
    (vars::RELAY_DLQ_URL, "RelayDLQUrl"),
    (WEBHOOK_DLQ_URL, "WebhookDLQUrl"),
    (EMAIL_DLQ_URL, "EmailDLQUrl"),
    (API_URL, "ApiUrl"),
    (vars::ACCEPT_URL_HOSTS, "AcceptUrlHosts"),
];

pub const WEBHOOK_DLQ_URL: &str = "WEBHOOK_DLQ_URL";
pub const EMAIL_DLQ_URL: &str = "EMAIL_DLQ_URL";
/// The deployed API's base URL (with its stage); only a stack or the environment knows it.
pub const API_URL: &str = "API_URL";

/// Where a value came from, shown by `inflowctl config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The stack output of that name.
    Stack(String),
    /// The environment variable of the same name.
    Environment,
    /// `make dev`'s name, used only against a local emulator.
    LocalDefault,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub value: String,
    pub source: Source,
}

/// The resolved configuration: every variable that has a value, and whether local defaults
/// may fill the rest.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub stack: Option<String>,
    /// An emulator on this machine answers (an endpoint URL on a loopback host).
    pub local: bool,
    pub endpoint: Option<String>,
    pub values: BTreeMap<String, Setting>,
}

/// The name `make dev` uses for a variable (a queue variable's default is the queue's name: only
/// `bootstrap` uses it, to create the queue).
fn local_default(var: &str) -> Option<String> {
    let names = Names::defaults();
    Some(match var {
        vars::TABLE_NAME => names.table,
        vars::APP_SECRET_ID => names.secret_id,
        vars::WEBHOOK_QUEUE_URL => names.webhook_queue,
        vars::EMAIL_QUEUE_URL => names.email_queue,
        vars::RELAY_DLQ_URL => names.relay_dlq,
        _ => return None,
    })
}

/// True when `endpoint` names this machine: local defaults are allowed only then. An emulator
/// elsewhere (or a VPC endpoint) gets no defaults: set the variables or use `--stack`.
pub fn is_local_endpoint(endpoint: Option<&str>) -> bool {
    let Some(endpoint) = endpoint else {
        return false;
    };
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Settings {
    /// Resolves every variable: the stack's output first (the operator named the stack on
    /// purpose), then the environment.
    pub fn resolve(
        stack: Option<(&str, &BTreeMap<String, String>)>,
        env: impl Fn(&str) -> Option<String>,
        endpoint: Option<&str>,
    ) -> Self {
        let mut values = BTreeMap::new();
        for (var, output) in FROM_OUTPUTS {
            let from_stack = stack
                .and_then(|(_, outputs)| outputs.get(*output))
                .filter(|v| !v.is_empty())
                .map(|v| Setting {
                    value: v.clone(),
                    source: Source::Stack((*output).to_owned()),
                });
            let from_env = || {
                env(var).filter(|v| !v.trim().is_empty()).map(|v| Setting {
                    value: v,
                    source: Source::Environment,
                })
            };
            if let Some(setting) = from_stack.or_else(from_env) {
                values.insert((*var).to_owned(), setting);
            }
        }
        Self {
            stack: stack.map(|(name, _)| name.to_owned()),
            local: is_local_endpoint(endpoint),
            endpoint: endpoint.map(str::to_owned),
            values,
        }
    }

    /// A variable's value, if it has one (no local default).
    pub fn optional(&self, var: &str) -> Option<String> {
        self.values.get(var).map(|setting| setting.value.clone())
    }

    /// A variable's value; against a local emulator, `make dev`'s name when it is not set.
    pub fn require(&self, var: &str) -> Result<String, Error> {
        if let Some(setting) = self.values.get(var) {
            return Ok(setting.value.clone());
        }
        match local_default(var) {
            Some(default) if self.local => Ok(default),
            default => Err(Error::Config(self.missing(var, default.as_deref()))),
        }
    }

    /// Fills in the local defaults (local mode only), so `inflowctl config` shows what is used.
    pub fn with_local_defaults(mut self) -> Self {
        if self.local {
            for (var, _) in FROM_OUTPUTS {
                if let (false, Some(default)) = (self.values.contains_key(*var), local_default(var))
                {
                    let setting = Setting {
                        value: default,
                        source: Source::LocalDefault,
                    };
                    self.values.insert((*var).to_owned(), setting);
                }
            }
        }
        self
    }

    fn missing(&self, var: &str, default: Option<&str>) -> String {
        let output = FROM_OUTPUTS
            .iter()
            .find(|(v, _)| *v == var)
            .map_or("", |(_, o)| *o);
        let mut message = match &self.stack {
            Some(stack) => format!("stack {stack} has no output {output} and {var} is not set"),
            None => format!("{var} is not set; pass --stack NAME (or INFLOW_STACK) to read it from the stack's outputs, or set it"),
        };
        if let (Some(default), false) = (default, self.local) {
            message.push_str(&format!(
                "; the local name '{default}' is only used against an emulator on this machine (AWS_ENDPOINT_URL), and this is not one"
            ));
        }
        message
    }

    /// The resource names `bootstrap` creates or finds; a queue's name is the last segment of
    /// its URL.
    pub fn names(&self) -> Result<Names, Error> {
        let queue_name = |var: &str| -> Result<String, Error> {
            let url = self.require(var)?;
            Ok(url.rsplit('/').next().unwrap_or(&url).to_owned())
        };
        Ok(Names {
            table: self.require(vars::TABLE_NAME)?,
            webhook_queue: queue_name(vars::WEBHOOK_QUEUE_URL)?,
            email_queue: queue_name(vars::EMAIL_QUEUE_URL)?,
            relay_dlq: queue_name(vars::RELAY_DLQ_URL)?,
            secret_id: self.require(vars::APP_SECRET_ID)?,
        })
    }

    /// A queue URL (no default: a URL holds the account id, which only the account knows).
    pub fn queue_url(&self, var: &str) -> Result<String, Error> {
        match self.values.get(var) {
            Some(setting) => Ok(setting.value.clone()),
            None => Err(Error::Config(self.missing(var, None))),
        }
    }
}

/// A stack's outputs, by output key, from CloudFormation's DescribeStacks.
pub async fn stack_outputs(
    sdk: &aws_config::SdkConfig,
    stack: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| {
            let region = sdk.region().map_or("(no region)".into(), |r| r.to_string());
            // The service's message says which ("Stack with id X does not exist"); the SDK's
            // Display alone says only "service error".
            let detail = aws_sdk_cloudformation::error::DisplayErrorContext(&err);
            Error::Config(format!("stack {stack} in {region}: {detail}"))
        })?;
    let found = out
        .stacks()
        .first()
        .ok_or_else(|| Error::Config(format!("stack {stack}: not found")))?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn loopback_endpoints_are_local_and_others_are_not() {
        for local in [
            "http://127.0.0.1:4566",
            "http://localhost:4566/",
            "http://[::1]:4566",
            "https://127.1.2.3",
            "http://LOCALHOST",
        ] {
            assert!(is_local_endpoint(Some(local)), "{local}");
        }
        for remote in [
            None,
            Some("https://dynamodb.us-east-1.amazonaws.com"),
            Some("http://10.0.0.5:4566"),
            Some("http://localhost.example.com:4566"),
            Some("http://127.0.0.1.nip.io"),
        ] {
            assert!(!is_local_endpoint(remote), "{remote:?}");
        }
    }

    #[test]
    fn a_real_account_gets_no_local_default() {
        let settings = Settings::resolve(None, env_of(&[]), None);
        let err = settings.require(vars::TABLE_NAME).unwrap_err().to_string();
        assert!(err.contains("TABLE_NAME is not set"), "{err}");
        assert!(err.contains("--stack"), "{err}");
        assert!(err.contains("'inflow'"), "{err}");
        assert!(settings.names().is_err());
    }

    #[test]
    fn an_emulator_on_this_machine_gets_make_devs_names() {
        let settings = Settings::resolve(None, env_of(&[]), Some("http://127.0.0.1:4566"));
        assert_eq!(settings.require(vars::TABLE_NAME).unwrap(), "inflow");
        let names = settings.names().unwrap();
        assert_eq!(names.webhook_queue, "inflow-webhooks");
        assert_eq!(names.secret_id, "inflow/app-secret");
        // A queue URL has no default (it holds the account id).
        assert!(settings.queue_url(vars::RELAY_DLQ_URL).is_err());
    }

    #[test]
    fn the_stack_wins_over_the_environment_which_fills_the_rest() {
        let outputs = BTreeMap::from([
            ("TableName".to_owned(), "prod-Table-1".to_owned()),
            (
                "WebhookQueueUrl".to_owned(),
                "https://sqs/1/prod-hooks".to_owned(),
            ),
        ]);
        let env = env_of(&[("TABLE_NAME", "inflow"), ("APP_SECRET_ID", "arn:secret")]);
        let settings = Settings::resolve(Some(("prod", &outputs)), env, None);
        assert_eq!(settings.require(vars::TABLE_NAME).unwrap(), "prod-Table-1");
        assert_eq!(
            settings.values[vars::TABLE_NAME].source,
            Source::Stack("TableName".into())
        );
        assert_eq!(settings.require(vars::APP_SECRET_ID).unwrap(), "arn:secret");
        assert_eq!(
            settings.values[vars::APP_SECRET_ID].source,
            Source::Environment
        );
        let err = settings
            .require(vars::EMAIL_QUEUE_URL)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stack prod has no output EmailQueueUrl"),
            "{err}"
        );
    }

    #[test]
    fn names_take_a_queues_name_from_its_url() {
        let env = env_of(&[
            ("TABLE_NAME", "t"),
            ("APP_SECRET_ID", "s"),
            ("WEBHOOK_QUEUE_URL", "https://sqs.x/123/hooks"),
            ("EMAIL_QUEUE_URL", "https://sqs.x/123/mail"),
            ("RELAY_DLQ_URL", "https://sqs.x/123/relay-dlq"),
        ]);
        let names = Settings::resolve(None, env, None).names().unwrap();
        assert_eq!(
            (names.webhook_queue.as_str(), names.email_queue.as_str()),
            ("hooks", "mail")
        );
        assert_eq!(names.relay_dlq, "relay-dlq");
    }

    #[test]
    fn local_defaults_are_shown_with_their_source() {
        let settings = Settings::resolve(
            None,
            env_of(&[("TABLE_NAME", "mine")]),
            Some("http://localhost:1"),
        )
        .with_local_defaults();
        assert_eq!(
            settings.values[vars::TABLE_NAME].source,
            Source::Environment
        );
        assert_eq!(
            settings.values[vars::APP_SECRET_ID].source,
            Source::LocalDefault
        );
        assert!(!settings.values.contains_key(API_URL));
    }
}
