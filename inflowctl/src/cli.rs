//! The command line of `inflowctl`, as a library so that tests and `inflowctl completions` see
//! exactly what the binary parses.

use clap::{Parser, Subcommand, ValueEnum};
use inflow::model::Tier;

#[derive(Parser)]
#[command(
    name = "inflowctl",
    version,
    about = "Operate an Inflow deployment (prints JSON)",
    after_help = "Finds the table, queues and secret from --stack's outputs, else the functions' \
variables (TABLE_NAME, APP_SECRET_ID, WEBHOOK_QUEUE_URL, EMAIL_QUEUE_URL, RELAY_DLQ_URL), else, \
against an emulator on this machine only (AWS_ENDPOINT_URL), make dev's names. \
Credentials and region: the usual AWS chain (profiles with SSO or credential_process included)."
)]
pub struct Cli {
    /// Read the table, queues and secret from this CloudFormation stack's outputs.
    #[arg(long, global = true, env = "INFLOW_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// The AWS profile (as AWS_PROFILE): SSO, credential_process and static profiles all work.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region (as AWS_REGION).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// json (the default, for scripts), table (for people) or text (a `path<TAB>value` line per
    /// value, for grep and cut). As the AWS CLI's --output; --format is the same flag.
    #[arg(long, alias = "format", global = true, value_enum, default_value_t = Format::Json)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
    Text,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create the table, queues (with dead-letter queues) and app secret; safe to run again.
    Bootstrap,
    /// Show the table, queues, secret and API URL in use, and where each comes from.
    Config,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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
pub enum RelayCommand {
    /// Queue again the jobs of the stream batches the relay gave up on (described in its DLQ,
    /// RELAY_DLQ_URL); each batch's message is deleted once all its jobs are queued.
    Redrive,
}

#[derive(Subcommand)]
pub enum TokenCommand {
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
pub enum OrgCommand {
    /// Every organization, by slug (a scan of the table: an occasional operator's read).
    List,
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
pub enum KeyCommand {
    /// An organization's keys: id, kind, tier, when created and whether revoked (never the key).
    List {
        #[arg(long)]
        org: String,
    },
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
pub enum UserCommand {
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
pub enum FlowCommand {
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
pub enum WebhookCommand {
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
pub enum TierArg {
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
pub enum KindArg {
    Admin,
    User,
}
