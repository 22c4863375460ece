//! `inflowctl`: bootstrap an account or emulator and manage organizations, keys, users, flows
//! and webhooks. Finds the table, queues, secret and endpoint from the same environment
//! variables the functions use (TABLE_NAME, WEBHOOK_QUEUE_URL, EMAIL_QUEUE_URL, APP_SECRET_ID,
//! AWS_ENDPOINT_URL, AWS_REGION, ...). Prints JSON on stdout; errors as JSON on stderr.

use clap::{Parser, Subcommand, ValueEnum};
use inflow::{
    bootstrap::{self, Names},
    config::{vars, Config},
    keys::KeyKind,
    model::{Role, Tier},
    org_settings::{self, Change, SettingsInput},
    orgs::{self, IssuedKey, NewFlow, NewOrg},
    App, Error,
};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "inflowctl",
    about = "Operate an Inflow deployment (prints JSON)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table, queues (with dead-letter queues) and app secret; safe to run again.
    Bootstrap,
    #[command(subcommand)]
    Org(OrgCommand),
    #[command(subcommand)]
    Key(KeyCommand),
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Flow(FlowCommand),
    #[command(subcommand)]
    Webhook(WebhookCommand),
    #[command(subcommand)]
    Token(TokenCommand),
    #[command(subcommand)]
    Relay(RelayCommand),
}

#[derive(Subcommand)]
enum RelayCommand {
    /// Queue again the jobs of the stream batches the relay gave up on (described in its DLQ,
    /// RELAY_DLQ_URL); each batch's message is deleted once all its jobs are queued.
    Redrive,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a user access token (HS256, signed with the organization's user-token secret).
    Mint {
        #[arg(long)]
        org: String,
        /// A user id (usr_…) or an email (an invitee without an account yet).
        #[arg(long)]
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization with one admin key and one user key (shown once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_enum, default_value_t = TierArg::Standard)]
        tier: TierArg,
    },
    /// Show an organization with its settings (as `GET /v1/organization` does).
    Get {
        #[arg(long)]
        org: String,
    },
    /// Change an organization's settings (as `PATCH /v1/organization` does); new invitations
    /// and emails follow at once. `default` resets a setting.
    Update {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: Option<String>,
        /// An https URL with {secret} where the invitation secret goes, or `default` (the
        /// stack's hosted accept page).
        #[arg(long)]
        accept_url_template: Option<String>,
        /// The default lifetime of new invitations, like "86400s" (at most a year), or `default`
        /// (30 days).
        #[arg(long)]
        invitation_ttl: Option<String>,
    },
    /// Change an organization's tier; its keys' rate limits follow at once.
    SetTier {
        #[arg(long)]
        org: String,
        #[arg(long, value_enum)]
        tier: TierArg,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key (shown once).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long, value_enum, default_value_t = KindArg::Admin)]
        kind: KindArg,
    },
    /// Revoke a key by its id (`key_…`); it stops working at once.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "MEMBER")]
        role: String,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 1)]
        modules: u32,
        #[arg(long, default_value = "1 hour")]
        estimated_duration: String,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Subscribe a URL to events (all when --events is not given); prints its signing secret.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        url: String,
        /// Comma-separated event types, e.g. flow.assigned,flow.completed
        #[arg(long)]
        events: Option<String>,
    },
    /// The organization's endpoints (as `GET /v1/webhooks/endpoints` shows them).
    List {
        #[arg(long)]
        org: String,
    },
    /// Remove an endpoint by its id (`whk_…`); its pending deliveries end failed.
    Remove {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TierArg {
    Standard,
    Enterprise,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Self {
        match t {
            TierArg::Standard => Tier::Standard,
            TierArg::Enterprise => Tier::Enterprise,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Admin,
    User,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(value) => println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        Err(err) => {
            eprintln!("{}", json!({"error": err.to_string()}));
            std::process::exit(1);
        }
    }
}

fn required_env(name: &str) -> Result<String, Error> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Config(format!("environment variable {name} is not set")))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Names come from the functions' variables; a queue's name is the last segment of its URL.
fn names() -> Names {
    let defaults = Names::defaults();
    let queue_name = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .and_then(|url| url.rsplit('/').next().map(str::to_owned))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    Names {
        table: env_or(vars::TABLE_NAME, &defaults.table),
        webhook_queue: queue_name(vars::WEBHOOK_QUEUE_URL, &defaults.webhook_queue),
        email_queue: queue_name(vars::EMAIL_QUEUE_URL, &defaults.email_queue),
        relay_dlq: queue_name(vars::RELAY_DLQ_URL, &defaults.relay_dlq),
        secret_id: env_or(vars::APP_SECRET_ID, &defaults.secret_id),
    }
}

async fn app(sdk: &aws_config::SdkConfig) -> Result<App, Error> {
    let names = names();
    let config = Config {
        table_name: names.table,
        app_secret_id: names.secret_id,
        public_base_url: std::env::var(vars::PUBLIC_BASE_URL).ok(),
        allow_private_targets: inflow::config::allow_private_targets(),
    };
    App::new(config, sdk).await
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

async fn run(command: Command) -> Result<Value, Error> {
    let sdk = aws_config::load_from_env().await;
    let now = chrono::Utc::now();
    match command {
        Command::Bootstrap => Ok(to_json(&bootstrap::ensure_all(&sdk, &names()).await?)),
        Command::Org(OrgCommand::Create {
            name,
            slug,
            email,
            tier,
        }) => {
            let app = app(&sdk).await?;
            let new = NewOrg {
                name: &name,
                slug: &slug,
                email: email.as_deref(),
                tier: tier.into(),
            };
            let (org, admin, user) = orgs::create_org(&app, new, now).await?;
            let mut out = serde_json::Map::new();
            out.insert("organization".into(), to_json(&org));
            out.extend(key_json("admin", &admin));
            out.extend(key_json("user", &user));
            Ok(Value::Object(out))
        }
        Command::Org(OrgCommand::Get { org }) => {
            let found = org_settings::get(&app(&sdk).await?, &org).await?;
            Ok(inflow::wire::organization::organization(&found))
        }
        Command::Org(OrgCommand::Update {
            org,
            name,
            accept_url_template,
            invitation_ttl,
        }) => {
            let app = app(&sdk).await?;
            let input = SettingsInput {
                name,
                accept_url_template: change(accept_url_template),
                invitation_ttl: change(invitation_ttl),
            };
            let change = input.validate(app.config.allow_private_targets)?;
            let found = org_settings::update(&app, &org, &change, now).await?;
            Ok(inflow::wire::organization::organization(&found))
        }
        Command::Org(OrgCommand::SetTier { org, tier }) => {
            let keys = orgs::set_tier(&app(&sdk).await?, &org, tier.into()).await?;
            Ok(
                json!({"organization": org, "tier": to_json(&Tier::from(tier)), "keysUpdated": keys}),
            )
        }
        Command::Key(KeyCommand::Create { org, kind }) => {
            let kind = match kind {
                KindArg::Admin => KeyKind::Admin,
                KindArg::User => KeyKind::User,
            };
            let key = orgs::create_key(&app(&sdk).await?, &org, kind, now).await?;
            Ok(
                json!({"id": key.id, "kind": to_json(&key.kind), "key": key.key.expose(), "organization": org}),
            )
        }
        Command::Key(KeyCommand::Revoke { org, id }) => {
            orgs::revoke_key(&app(&sdk).await?, &org, &id, now).await?;
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
                &orgs::create_user(&app(&sdk).await?, &org, &email, name.as_deref(), role, now)
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
                &orgs::create_flow(&app(&sdk).await?, &org, new, now).await?,
            ))
        }
        Command::Token(TokenCommand::Mint { org, user, ttl }) => {
            let token =
                inflow::invitations::tokens::mint_for(&app(&sdk).await?, &org, &user, ttl, now)
                    .await?;
            Ok(json!({"organization": org, "user": user, "token": token, "expiresIn": ttl}))
        }
        Command::Relay(RelayCommand::Redrive) => {
            let dlq_url = required_env(vars::RELAY_DLQ_URL)?;
            let queues = inflow::queue::Queues::from_env(&sdk)?;
            let done = inflowctl::redrive::redrive(&sdk, &dlq_url, queues).await?;
            Ok(to_json(&done))
        }
        Command::Webhook(WebhookCommand::List { org }) => {
            let all = inflow::webhooks::list(&app(&sdk).await?, &org).await?;
            let views: Vec<Value> = all.iter().map(inflow::wire::webhooks::endpoint).collect();
            Ok(json!({"organization": org, "endpoints": views}))
        }
        Command::Webhook(WebhookCommand::Remove { org, id }) => {
            inflow::webhooks::remove(&app(&sdk).await?, &org, &id).await?;
            Ok(json!({"id": id, "organization": org, "removed": true}))
        }
        Command::Webhook(WebhookCommand::Add { org, url, events }) => {
            let (endpoint, secret) =
                orgs::add_webhook(&app(&sdk).await?, &org, &url, events.as_deref(), now).await?;
            Ok(
                json!({"id": endpoint.id, "organization": org, "url": endpoint.url, "events": endpoint.events, "secret": secret}),
            )
        }
    }
}
