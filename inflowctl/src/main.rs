//! `inflowctl`: bootstrap an account or emulator and manage organizations, keys, users, flows
//! and webhooks. Finds the table, queues and secret from a stack's outputs (`--stack`) or the
//! same environment variables the functions use (inflowctl::settings). Prints JSON on stdout
//! (or a table, `--output table`, or `path<TAB>value` lines, `--output text`); errors as JSON on stderr.

use clap::{CommandFactory, Parser};
use inflow::{
    bootstrap,
    config::{vars, Config},
    keys::KeyKind,
    model::{Change, Role, Tier},
    operator::{self, IssuedKey, NewFlow, NewOrg},
    org_settings::{self, SettingsInput},
    queue::Queues,
    App, Error,
};
use inflowctl::{
    cli::{
        Cli, Command, FlowCommand, Format, KeyCommand, KindArg, OrgCommand, RelayCommand,
        TokenCommand, UserCommand, WebhookCommand,
    },
    listing,
    settings::{self, Settings},
};
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        // Needs no AWS configuration: works before any profile or stack exists.
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "inflowctl",
            &mut std::io::stdout(),
        );
        return;
    }
    let format = cli.output;
    match run(cli).await {
        Ok(value) => match format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            ),
            Format::Table => print!("{}", inflowctl::table::render(&value)),
            Format::Text => print!("{}", inflowctl::table::text(&value)),
        },
        Err(err) => {
            eprintln!("{}", json!({"error": err.to_string()}));
            std::process::exit(1);
        }
    }
}

/// The usual AWS chain (environment, profiles with SSO and credential_process, IMDS ...), with
/// `--profile` and `--region` taking precedence.
async fn sdk_config(cli: &Cli) -> aws_config::SdkConfig {
    let mut loader = aws_config::from_env();
    if let Some(profile) = &cli.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &cli.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
}

/// The names in use: `--stack`'s outputs, the environment, and local defaults for an emulator.
async fn settings(sdk: &aws_config::SdkConfig, stack: Option<&str>) -> Result<Settings, Error> {
    let outputs = match stack {
        Some(name) => Some((name, settings::stack_outputs(sdk, name).await?)),
        None => None,
    };
    Ok(Settings::resolve(
        outputs.as_ref().map(|(name, o)| (*name, o)),
        |var| std::env::var(var).ok(),
        sdk.endpoint_url(),
    ))
}

async fn app(sdk: &aws_config::SdkConfig, settings: &Settings) -> Result<App, Error> {
    let config = Config {
        table_name: settings.require(vars::TABLE_NAME)?,
        app_secret_id: settings.require(vars::APP_SECRET_ID)?,
        public_base_url: std::env::var(vars::PUBLIC_BASE_URL).ok(),
        allow_private_targets: inflow::config::allow_private_targets(),
        accept_url_hosts: inflow::config::host_list(
            &settings
                .optional(vars::ACCEPT_URL_HOSTS)
                .unwrap_or_default(),
        ),
        // The operator's own actions send no invitation email.
        email_budgets: Default::default(),
    };
    App::new(config, sdk).await
}

/// `inflowctl config`: what the other commands would use, and where each value comes from.
fn config_json(sdk: &aws_config::SdkConfig, cli: &Cli, settings: Settings) -> Value {
    let settings = settings.with_local_defaults();
    json!({
        "stack": settings.stack,
        "region": sdk.region().map(|r| r.to_string()),
        "profile": cli.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok()),
        "endpoint": settings.endpoint,
        "local": settings.local,
        "values": to_json(&settings.values),
    })
}

/// A setting from the command line: absent keeps it, `default` resets it.
fn change(value: Option<String>) -> Change<String> {
    match value {
        None => Change::Keep,
        Some(v) if v == "default" => Change::Clear,
        Some(v) => Change::Set(v),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn key_json(prefix: &str, key: &IssuedKey) -> [(String, Value); 2] {
    [
        (format!("{prefix}Key"), json!(key.key.expose())),
        (format!("{prefix}KeyId"), json!(key.id)),
    ]
}

async fn run(cli: Cli) -> Result<Value, Error> {
    let sdk = sdk_config(&cli).await;
    let settings = settings(&sdk, cli.stack.as_deref()).await?;
    let now = chrono::Utc::now();
    match cli.command {
        Command::Completions { .. } => Ok(Value::Null),
        Command::Config => Ok(config_json(&sdk, &cli, settings)),
        Command::Bootstrap => Ok(to_json(
            &bootstrap::ensure_all(&sdk, &settings.names()?).await?,
        )),
        Command::Org(OrgCommand::List) => {
            let orgs = listing::orgs(&app(&sdk, &settings).await?).await?;
            Ok(json!({ "organizations": orgs }))
        }
        Command::Key(KeyCommand::List { org }) => {
            let keys = listing::keys(&app(&sdk, &settings).await?, &org).await?;
            Ok(json!({"organization": org, "keys": to_json(&keys)}))
        }
        Command::Org(OrgCommand::Create {
            name,
            slug,
            email,
            tier,
        }) => {
            let app = app(&sdk, &settings).await?;
            let new = NewOrg {
                name: &name,
                slug: &slug,
                email: email.as_deref(),
                tier: tier.into(),
            };
            let (org, admin, user) = operator::create_org(&app, new, now).await?;
            let mut out = serde_json::Map::new();
            out.insert("organization".into(), to_json(&org));
            out.extend(key_json("admin", &admin));
            out.extend(key_json("user", &user));
            Ok(Value::Object(out))
        }
        Command::Org(OrgCommand::Get { org }) => {
            let found = org_settings::get(&app(&sdk, &settings).await?, &org).await?;
            Ok(inflow::views::organization(&found))
        }
        Command::Org(OrgCommand::Update {
            org,
            name,
            accept_url_template,
            invitation_ttl,
        }) => {
            let app = app(&sdk, &settings).await?;
            let input = SettingsInput {
                name,
                accept_url_template: change(accept_url_template),
                invitation_ttl: change(invitation_ttl),
            };
            let change = inflow::model::SettingsChange::validate(input, &app.config)?;
            let found = org_settings::update(&app, &org, &change, now).await?;
            Ok(inflow::views::organization(&found))
        }
        Command::Org(OrgCommand::SetTier { org, tier }) => {
            let keys = operator::set_tier(&app(&sdk, &settings).await?, &org, tier.into()).await?;
            Ok(
                json!({"organization": org, "tier": to_json(&Tier::from(tier)), "keysUpdated": keys}),
            )
        }
        Command::Key(KeyCommand::Create { org, kind }) => {
            let kind = match kind {
                KindArg::Admin => KeyKind::Admin,
                KindArg::User => KeyKind::User,
            };
            let key = operator::create_key(&app(&sdk, &settings).await?, &org, kind, now).await?;
            Ok(
                json!({"id": key.id, "kind": to_json(&key.kind), "key": key.key.expose(), "organization": org}),
            )
        }
        Command::Key(KeyCommand::Revoke { org, id }) => {
            operator::revoke_key(&app(&sdk, &settings).await?, &org, &id, now).await?;
            Ok(json!({"id": id, "organization": org, "revoked": true}))
        }
        Command::User(UserCommand::Create {
            org,
            email,
            name,
            role,
        }) => {
            let role = Role::parse(&role)
                .ok_or_else(|| Error::invalid("role", "must be OWNER, MEMBER or GUEST"))?;
            Ok(to_json(
                &operator::create_user(
                    &app(&sdk, &settings).await?,
                    &org,
                    &email,
                    name.as_deref(),
                    role,
                    now,
                )
                .await?,
            ))
        }
        Command::Flow(FlowCommand::Create {
            org,
            slug,
            name,
            modules,
            estimated_duration,
        }) => {
            let new = NewFlow {
                slug: &slug,
                name: &name,
                module_count: modules,
                estimated_duration: &estimated_duration,
            };
            Ok(to_json(
                &operator::create_flow(&app(&sdk, &settings).await?, &org, new, now).await?,
            ))
        }
        Command::Token(TokenCommand::Mint { org, user, ttl }) => {
            let token = inflow::invitations::tokens::mint_for(
                &app(&sdk, &settings).await?,
                &org,
                &user,
                ttl,
                now,
            )
            .await?;
            Ok(json!({"organization": org, "user": user, "token": token, "expiresIn": ttl}))
        }
        Command::Relay(RelayCommand::Redrive) => {
            let dlq_url = settings.queue_url(vars::RELAY_DLQ_URL)?;
            let queues = Queues::new(
                aws_sdk_sqs::Client::new(&sdk),
                settings.queue_url(vars::WEBHOOK_QUEUE_URL)?,
                settings.queue_url(vars::EMAIL_QUEUE_URL)?,
            );
            let done = inflowctl::redrive::redrive(&sdk, &dlq_url, queues).await?;
            Ok(to_json(&done))
        }
        Command::Webhook(WebhookCommand::List { org }) => {
            let all = inflow::webhooks::list(&app(&sdk, &settings).await?, &org).await?;
            let views: Vec<Value> = all.iter().map(inflow::views::webhook_endpoint).collect();
            Ok(json!({"organization": org, "endpoints": views}))
        }
        Command::Webhook(WebhookCommand::Remove { org, id }) => {
            inflow::webhooks::remove(&app(&sdk, &settings).await?, &org, &id).await?;
            Ok(json!({"id": id, "organization": org, "removed": true}))
        }
        Command::Webhook(WebhookCommand::Add { org, url, events }) => {
            let (endpoint, secret) = operator::add_webhook(
                &app(&sdk, &settings).await?,
                &org,
                &url,
                events.as_deref(),
                now,
            )
            .await?;
            Ok(
                json!({"id": endpoint.id, "organization": org, "url": endpoint.url, "events": endpoint.events, "secret": secret}),
            )
        }
    }
}
