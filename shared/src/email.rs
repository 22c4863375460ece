//! The email worker: sends each queued invitation email with Amazon SES (v2 API) and moves the
//! invitation flow START_PENDING → STARTED.
//!
//! A job is stale when, between queueing and sending, its invitation was re-sent (a new secret:
//! the job's link would be dead), canceled, consumed or removed. Stale jobs send nothing and
//! succeed. Any other failure fails the message, so SQS redelivers it (and after 5 receives
//! moves it to the dead-letter queue). A job is sent under a lease on its invitation, and the
//! lease ends with the STARTED mark: a second copy of the job (the relay may queue one twice)
//! finds the invitation STARTED, or leased and comes back later, and sends nothing. The one
//! window left: a worker that dies after SES took the mail and before the mark; once its lease
//! runs out, the job's redelivery sends the mail again.

pub mod render;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

use crate::{
    app::App,
    config::Config,
    error::Error,
    invitations::hash_secret,
    jobs::{EmailJob, Lane},
    model::{Flow, Invitation, InvitationState, Organization, User},
    org_settings,
    queue::{self, Queues},
    store, validate, worker,
};

/// Environment variables of this worker (beside the shared ones of [`Config`]).
pub mod vars {
    /// The From address of invitation emails (an SES-verified identity). Required.
    pub const SENDER_EMAIL: &str = "SENDER_EMAIL";
    /// Where accept links point when the organization has no template of its own; `{secret}`
    /// is replaced by the URL-encoded invitation secret.
    pub const ACCEPT_URL_TEMPLATE: &str = "ACCEPT_URL_TEMPLATE";
    /// The bulk lane's share of SES's sending rate, mails a second for the whole stack
    /// (template.yaml's BulkEmailRate). Unset: bulk mail is not paced.
    pub const BULK_EMAILS_PER_SECOND: &str = "BULK_EMAILS_PER_SECOND";
    /// The worker's invocations at once (its event source's MaximumConcurrency): each paces
    /// its bulk mail at its share of BULK_EMAILS_PER_SECOND.
    pub const EMAIL_WORKER_CONCURRENCY: &str = "EMAIL_WORKER_CONCURRENCY";
}

pub const DEFAULT_ACCEPT_URL_TEMPLATE: &str = "http://127.0.0.1:9000/accept?secret={secret}";

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub sender: String,
    pub accept_url_template: String,
    /// The time between two bulk mails of one invocation, so that the bulk lane, all
    /// invocations together, sends at most BULK_EMAILS_PER_SECOND and leaves the rest of SES's
    /// rate to single invitations. `None`: not paced.
    pub bulk_interval: Option<Duration>,
}

impl MailConfig {
    pub fn from_env() -> Result<Self, Error> {
        let sender = std::env::var(vars::SENDER_EMAIL).unwrap_or_default();
        if sender.trim().is_empty() {
            return Err(Error::Config(format!(
                "environment variable {} is not set",
                vars::SENDER_EMAIL
            )));
        }
        let template = std::env::var(vars::ACCEPT_URL_TEMPLATE)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let number = |name: &str| -> Result<Option<f64>, Error> {
            match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() && n > 0.0 => Ok(Some(n)),
                    _ => Err(Error::Config(format!("{name} must be a positive number"))),
                },
            }
        };
        let rate = number(vars::BULK_EMAILS_PER_SECOND)?;
        let concurrency = number(vars::EMAIL_WORKER_CONCURRENCY)?.unwrap_or(1.0);
        Ok(Self {
            bulk_interval: rate.map(|rate| bulk_interval(rate, concurrency)),
            ..Self::new(&sender, template.as_deref())?
        })
    }

    /// Checks the sender (a bare address: it becomes the From header) and the template.
    pub fn new(sender: &str, accept_url_template: Option<&str>) -> Result<Self, Error> {
        let sender = sender.trim();
        if bare_address(sender).as_deref() != Some(sender) {
            return Err(Error::Config(format!(
                "{} must be a bare email address",
                vars::SENDER_EMAIL
            )));
        }
        let sender = sender.to_owned();
        let template = accept_url_template
            .unwrap_or(DEFAULT_ACCEPT_URL_TEMPLATE)
            .trim()
            .to_owned();
        if template.chars().any(char::is_control) || !template.starts_with("http") {
            return Err(Error::Config(format!(
                "{} must be an http(s) URL",
                vars::ACCEPT_URL_TEMPLATE
            )));
        }
        Ok(Self {
            sender,
            accept_url_template: template,
            bulk_interval: None,
        })
    }
}

/// Each invocation's time between bulk mails: `concurrency` invocations together send `rate` a
/// second.
fn bulk_interval(rate: f64, concurrency: f64) -> Duration {
    Duration::from_secs_f64(concurrency.max(1.0) / rate)
}

/// The next moment this container may send a bulk mail.
static BULK_PACE: tokio::sync::Mutex<Option<Instant>> = tokio::sync::Mutex::const_new(None);

/// Waits for this container's next bulk slot (`interval` after the last one).
async fn pace(interval: Duration) {
    let mut next = BULK_PACE.lock().await;
    let now = Instant::now();
    let slot = next.map_or(now, |n| n.max(now));
    *next = Some(slot + interval);
    drop(next);
    tokio::time::sleep_until(slot.into()).await;
}

/// The worker's context, built once per container.
pub struct EmailWorker {
    pub app: App,
    pub ses: aws_sdk_sesv2::Client,
    /// Where a job SES throttled goes back to, delayed.
    pub queues: Queues,
    pub settings: MailConfig,
}

impl EmailWorker {
    pub async fn from_env() -> Result<Self, Error> {
        let settings = MailConfig::from_env()?;
        let config = Config::from_env()?;
        let sdk = crate::app::sdk_config().await?;
        let app = App::new(config, &sdk).await?;
        Ok(Self {
            app,
            ses: aws_sdk_sesv2::Client::new(&sdk),
            queues: Queues::from_env(&sdk)?,
            settings,
        })
    }
}

/// What became of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The email went out; `started` is false when a resend or cancel won the race meanwhile.
    Sent { started: bool },
    /// SES would not take it now (its sending rate or daily quota): the job waits and comes
    /// again (see [`defer`]).
    Throttled,
    /// Nothing to send (see [`Stale`]).
    Stale(Stale),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// The invitation or its organization no longer exists.
    Gone,
    /// It left START_PENDING (sent already, consumed, canceled, expired by the sweeper).
    NotPending,
    /// A resend replaced its secret: a newer job carries the live link.
    Superseded,
    /// Its expiry passed: the link would not work.
    Expired,
}

/// The Lambda handler: every record of the batch, failures reported one by one.
pub async fn handle(worker: &EmailWorker, event: SqsEvent) -> SqsBatchResponse {
    worker::process_batch(event, |message| handle_message(worker, message)).await
}

async fn handle_message(worker: &EmailWorker, message: SqsMessage) -> Result<(), Error> {
    let job = parse_job(&message)?;
    if let (Lane::Bulk, Some(interval)) = (job.lane, worker.settings.bulk_interval) {
        pace(interval).await;
    }
    let outcome = deliver(worker, &job, Utc::now()).await?;
    let (id, org) = (&job.invitation_id, &job.org_id);
    match outcome {
        JobOutcome::Throttled => {
            crate::metrics::count("EmailsDeferred", 1, &[]);
            tracing::info!(invitation_id = %id, org_id = %org, deferrals = job.deferrals, "SES throttled the email; it waits");
            defer(worker, job).await?;
        }
        JobOutcome::Sent { started } => {
            crate::metrics::count("EmailsSent", 1, &[]);
            tracing::info!(invitation_id = %id, org_id = %org, started, "invitation email sent");
        }
        JobOutcome::Stale(why) => {
            tracing::info!(invitation_id = %id, org_id = %org, reason = ?why, "stale job skipped");
        }
    }
    Ok(())
}

/// Times a job may wait for SES before it is failed like any other error (about six hours).
pub const MAX_DEFERRALS: u32 = 30;

/// A throttled job goes back to the queue as a new message, delayed 30 s, then twice as long
/// each time up to SQS's 15 minutes, so it waits without counting toward the dead-letter
/// queue's receives (a redelivery would).
async fn defer(worker: &EmailWorker, mut job: EmailJob) -> Result<(), Error> {
    if job.deferrals >= MAX_DEFERRALS {
        return Err(Error::unavailable(format!(
            "SES throttled this email {MAX_DEFERRALS} times"
        )));
    }
    let delay = deferral_secs(job.deferrals);
    job.deferrals += 1;
    let body = serde_json::to_string(&job)
        .map_err(|e| Error::internal_from("writing a job as JSON", e))?;
    let message = queue::Message {
        delay_secs: delay,
        ..queue::Message::new(body, job.request_id.clone()).in_group(Some(job.group()))
    };
    worker
        .queues
        .send_one(&worker.queues.email_url, message)
        .await
}

fn deferral_secs(deferrals: u32) -> i32 {
    (30_i32 << deferrals.min(5)).min(900)
}

fn parse_job(message: &SqsMessage) -> Result<EmailJob, Error> {
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| Error::internal("email job without a body"))?;
    serde_json::from_str(body).map_err(|e| Error::internal_from("unreadable email job", e))
}

/// How long a worker holds an email before another copy of its job may send it: less than
/// the queue's visibility timeout, so a crashed worker's message, when it comes back, can.
pub const LEASE_SECS: i64 = 120;

/// Sends one job's email unless it is stale, then marks the invitation STARTED. The email is
/// claimed first (a lease on the invitation), so two copies of one job never both send.
pub async fn deliver(
    worker: &EmailWorker,
    job: &EmailJob,
    now: DateTime<Utc>,
) -> Result<JobOutcome, Error> {
    use store::invitations::EmailClaim;
    let app = &worker.app;
    let secret = app.sealer.open(&job.secret_sealed)?;
    let secret_hash = hash_secret(&app.hasher, &secret);
    let (org_id, id) = (&job.org_id, &job.invitation_id);
    let inv = match store::invitations::claim_email(
        &app.table,
        org_id,
        id,
        &secret_hash,
        now,
        LEASE_SECS,
    )
    .await?
    {
        EmailClaim::Claimed(inv) => *inv,
        EmailClaim::Gone => return Ok(JobOutcome::Stale(Stale::Gone)),
        EmailClaim::Refused(inv) => {
            return match staleness(&inv, &secret_hash, now) {
                Some(why) => Ok(JobOutcome::Stale(why)),
                // Another copy of this job holds the lease: SQS brings this one back later,
                // when the email is sent (then stale) or the holder's lease has run out.
                None => Err(Error::unavailable("another worker is sending this email")),
            };
        }
    };
    let lease_until = now.timestamp() + LEASE_SECS;
    let sent = match staleness(&inv, &secret_hash, now) {
        Some(why) => Ok(Composed::Stale(why)),
        None => compose_and_send(worker, &inv, &secret).await,
    };
    match sent {
        Ok(Composed::Sent) => {
            let started =
                store::invitations::mark_started(&app.table, org_id, id, &secret_hash, now).await?;
            Ok(JobOutcome::Sent { started })
        }
        Ok(Composed::Stale(why)) => {
            store::invitations::release_email(&app.table, org_id, id, lease_until).await?;
            Ok(JobOutcome::Stale(why))
        }
        Ok(Composed::Throttled) => {
            store::invitations::release_email(&app.table, org_id, id, lease_until).await?;
            Ok(JobOutcome::Throttled)
        }
        Err(err) => {
            if let Err(release) =
                store::invitations::release_email(&app.table, org_id, id, lease_until).await
            {
                tracing::warn!(error = %release, "the email's lease is held until it runs out");
            }
            Err(err)
        }
    }
}

/// What became of an email handed to SES.
enum Composed {
    Sent,
    /// Nothing sent: the job is stale.
    Stale(Stale),
    /// Nothing sent: SES would not take it now.
    Throttled,
}

/// Renders the invitation's email and sends it (nothing sent when its organization is gone).
async fn compose_and_send(
    worker: &EmailWorker,
    inv: &Invitation,
    secret: &str,
) -> Result<Composed, Error> {
    let to = bare_address(&inv.email)
        .ok_or_else(|| Error::internal(format!("invitation {} has an unusable address", inv.id)))?;
    let Some(context) = read_context(&worker.app, inv).await? else {
        return Ok(Composed::Stale(Stale::Gone));
    };
    // The organization's own template while its host is still one the operator allows (the list
    // may have narrowed since it was set); else the stack's page.
    let template = context
        .org
        .accept_url_template
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .filter(|t| {
            let allowed = org_settings::accept_url_template(t, &worker.app.config).is_ok();
            if !allowed {
                tracing::warn!(org_id = %inv.org_id, "accept-URL template on a host no longer allowed; the stack's page is used");
            }
            allowed
        })
        .unwrap_or(&worker.settings.accept_url_template);
    let accept_url = render::accept_url(template, secret);
    let rendered = render::render(&render::Invite {
        kind: inv.kind,
        org_name: &context.org.name,
        flow_name: context.flow.as_ref().map(|f| f.name.as_str()),
        invitee_name: inv.display_name.as_deref(),
        inviter_name: context
            .inviter
            .as_ref()
            .map(|u| u.name.as_deref().unwrap_or(&u.email)),
        message: inv.message.as_deref(),
        accept_url: &accept_url,
        expires: inv.expire_time,
    });
    send(worker, &to, &rendered).await
}

/// The address alone (`local@domain`), valid and with nothing a header could be built from.
/// Stored addresses are bare already (`validate::email`); this is the last check before SES.
pub fn bare_address(value: &str) -> Option<String> {
    use email_address::{EmailAddress, Options};
    let valid = validate::email("email", value).ok()?;
    let bare = EmailAddress::parse_with_options(&valid, Options::default())
        .ok()?
        .email();
    EmailAddress::parse_with_options(&bare, Options::default().without_display_text()).ok()?;
    let plain = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control()))
        && !bare.contains(['<', '>', ',', ';', '"']);
    plain.then_some(bare)
}

/// Why a job must not send, if it must not.
fn staleness(inv: &Invitation, secret_hash: &str, now: DateTime<Utc>) -> Option<Stale> {
    if inv.state != InvitationState::StartPending {
        Some(Stale::NotPending)
    } else if inv.secret_hash != secret_hash {
        Some(Stale::Superseded)
    } else if inv.expire_time <= now {
        Some(Stale::Expired)
    } else {
        None
    }
}

/// What the email names besides the invitation.
struct MailContext {
    org: Organization,
    flow: Option<Flow>,
    inviter: Option<User>,
}

/// The organization, training flow and inviting user, read at once. `None`: the organization
/// is gone.
async fn read_context(app: &App, inv: &Invitation) -> Result<Option<MailContext>, Error> {
    let table = &app.table;
    let flow = async {
        match &inv.flow_slug {
            Some(slug) => store::orgs::flow_by_slug(table, &inv.org_id, slug).await,
            None => Ok(None),
        }
    };
    let inviter = async {
        match &inv.creator_user_id {
            Some(user_id) => store::orgs::get_user(table, &inv.org_id, user_id).await,
            None => Ok(None),
        }
    };
    let (org, flow, inviter) =
        tokio::try_join!(store::orgs::get_org_opt(table, &inv.org_id), flow, inviter)?;
    Ok(org.map(|org| MailContext { org, flow, inviter }))
}

/// SES's answers for "not now": its sending rate or its daily quota.
const THROTTLES: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "Throttling",
    "ThrottlingException",
];

/// One SES v2 SendEmail: simple content, UTF-8, to the one bare address.
async fn send(worker: &EmailWorker, to: &str, mail: &render::Rendered) -> Result<Composed, Error> {
    let content = |data: &str| {
        Content::builder()
            .data(data)
            .charset("UTF-8")
            .build()
            .map_err(|e| Error::internal_from("building an email's content", e))
    };
    let message = Message::builder()
        .subject(content(&mail.subject)?)
        .body(
            Body::builder()
                .html(content(&mail.html)?)
                .text(content(&mail.text)?)
                .build(),
        )
        .build();
    let result = worker
        .ses
        .send_email()
        .from_email_address(&worker.settings.sender)
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(Composed::Sent),
        Err(err) => {
            use aws_sdk_sesv2::error::ProvideErrorMetadata;
            match err.code() {
                Some(code) if THROTTLES.contains(&code) => Ok(Composed::Throttled),
                _ => Err(err.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferrals_double_up_to_sqs_s_longest_delay() {
        let delays: Vec<i32> = (0..8).map(deferral_secs).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn bulk_mail_is_paced_to_its_share_of_the_rate() {
        assert_eq!(bulk_interval(10.0, 2.0), Duration::from_millis(200));
        assert_eq!(bulk_interval(10.0, 0.0), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_container_s_bulk_slots_are_an_interval_apart() {
        let started = Instant::now();
        for _ in 0..4 {
            pace(Duration::from_millis(50)).await;
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
    }

    #[test]
    fn settings_are_checked() {
        let s = MailConfig::new("noreply@example.com", None).unwrap();
        assert_eq!(s.accept_url_template, DEFAULT_ACCEPT_URL_TEMPLATE);
        assert!(MailConfig::new("Inflow <noreply@example.com>", None).is_err());
        assert!(MailConfig::new("noreply@example.com\r\nBcc: x@y.z", None).is_err());
        assert!(MailConfig::new("noreply@example.com", Some("ftp://x")).is_err());
        assert!(MailConfig::new("noreply@example.com", Some("https://a.example/{secret}")).is_ok());
    }

    #[test]
    fn only_bare_addresses_reach_ses() {
        assert_eq!(
            bare_address(" jane@example.com ").as_deref(),
            Some("jane@example.com")
        );
        // A display form never reaches SES (nor the table: `validate::email` refuses it).
        for named in ["Jane <jane@example.com>", "\"Jane\" <jane@example.com>"] {
            assert_eq!(bare_address(named), None, "{named}");
        }
        for bad in [
            "jane@example.com\r\nBcc: x@y.z",
            "jane@example.com, x@y.z",
            "jane@example.invalid",
            "",
        ] {
            assert_eq!(bare_address(bad), None, "{bad:?}");
        }
    }
}
