//! The webhook worker: fans each event out to the organization's subscribed endpoints and
//! delivers it, signed the Standard Webhooks way, retrying on the Standard Webhooks schedule
//! through delayed SQS messages. A delivery that gives up (its last try, a receiver's 410, a
//! refused target) ends in its organization's dead letters: recorded `failed`, listed by
//! `GET /v1/webhooks/deliveries?status=failed` and replayable. That is the tenant's to act on;
//! the webhook queue's dead-letter queue (and its alarm) holds only jobs the worker itself could
//! not process, which are the operator's.

pub mod limits;
pub mod schedule;
pub mod signing;
pub mod target;

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use self::limits::Limits;
use crate::model::{
    delivery::{delivery_id, AttemptRecord, Delivery, DeliveryStatus},
    WebhookEndpoint,
};
use crate::{
    app::App,
    error::Error,
    jobs::{AttemptJob, Event, Job, Lane, Outbox, TestNote, TEST_EVENT_TYPE},
    queue::{self, Message, Queues},
    store::{
        self,
        deliveries::{AttemptClaim, Next},
    },
    worker,
};

/// How long a worker may hold an attempt before another may take it over.
const LEASE_SECS: i64 = 120;

/// What the worker is configured with besides the app.
pub struct DeliveryConfig {
    pub schedule: Vec<Duration>,
    /// Local mode (`make dev`, tests): loopback and private targets are allowed.
    pub allow_private_targets: bool,
    pub timeout: Duration,
    /// Deliveries in flight at once in this instance, and to one host ([`limits`]).
    pub in_flight: usize,
    pub per_host: usize,
}

pub struct WebhookWorker {
    pub app: App,
    queues: Queues,
    http: reqwest::Client,
    settings: DeliveryConfig,
    limits: Limits,
}

/// How long an invocation may take when its deadline is not known (tests); the function's
/// Timeout is 30 s.
const DEFAULT_BUDGET: Duration = Duration::from_secs(25);
/// What an attempt keeps in hand beyond its request's timeout before the invocation's deadline
/// (recording the attempt, answering Lambda).
const START_MARGIN: Duration = Duration::from_secs(2);

/// Events the worker fans out from one message. A larger message (the relay packs as many
/// events as fit in one) is first split into messages of this many, so each run stays small.
pub const EVENTS_PER_FAN_OUT: usize = 50;

/// What the webhook queue carries: events and arrays of events (from the relay), test events
/// for one endpoint (from the relay) and attempt jobs (replays, from the relay; retries, from
/// this worker).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Work {
    Attempt(AttemptJob),
    Test(TestNote),
    Event(Event),
    Events(Vec<Event>),
}

impl WebhookWorker {
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = crate::app::sdk_config().await?;
        let app = App::new(crate::config::Config::from_env()?, &sdk).await?;
        let queues = Queues::from_env(&sdk)?;
        let settings = DeliveryConfig {
            schedule: schedule::standard(),
            allow_private_targets: crate::config::allow_private_targets(),
            timeout: Duration::from_secs(10),
            in_flight: limits::IN_FLIGHT,
            per_host: limits::PER_HOST,
        };
        Self::new(app, queues, settings)
    }

    pub fn new(app: App, queues: Queues, settings: DeliveryConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(target::SafeResolver {
                allow_private: settings.allow_private_targets,
            }))
            .redirect(reqwest::redirect::Policy::none())
            // Proxy variables in the environment must not route deliveries around the checks.
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(settings.timeout)
            // Idle connections are file descriptors too: as many as may be busy, not longer.
            .pool_max_idle_per_host(settings.per_host)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent("Inflow-Webhooks/1")
            .tls_backend_preconfigured(crate::tls::public_roots()?)
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            app,
            queues,
            http,
            limits: Limits::new(settings.in_flight, settings.per_host),
            settings,
        })
    }

    /// The most deliveries this instance has had in hand at once.
    pub fn peak_in_flight(&self) -> usize {
        self.limits.peak()
    }

    /// `start_by`: the latest moment an attempt may start and still finish in this invocation.
    async fn process(&self, message: SqsMessage, start_by: Instant) -> Result<(), Error> {
        // Its events' lane: their deliveries and retries stay in their group.
        let lane = queue::group_of(&message)
            .map(|g| Lane::of_group(&g))
            .unwrap_or_default();
        let body = message.body.unwrap_or_default();
        match serde_json::from_str::<Work>(&body) {
            Ok(Work::Attempt(job)) => self.attempt(job, start_by).await,
            Ok(Work::Test(note)) => self.test(&note, start_by).await,
            Ok(Work::Event(event)) => {
                self.fan_out_all(std::slice::from_ref(&event), lane, start_by)
                    .await
            }
            // Many events, as many as fit a message: split into small batches first.
            Ok(Work::Events(events)) if events.len() > EVENTS_PER_FAN_OUT => {
                self.split(&events, lane).await
            }
            // A small batch: every event is fanned out; any failure redelivers the batch, and
            // the deliveries already made are not made twice.
            Ok(Work::Events(events)) => self.fan_out_all(&events, lane, start_by).await,
            // Left to fail until SQS moves it to the dead-letter queue.
            Err(err) => Err(Error::internal_from("unreadable webhook job", err)),
        }
    }

    /// A message of many events, again as messages of [`EVENTS_PER_FAN_OUT`]; any one not
    /// queued fails the message, so SQS redelivers it (the fan-out of what is queued twice is
    /// made once).
    async fn split(&self, events: &[Event], lane: Lane) -> Result<(), Error> {
        let messages = events
            .chunks(EVENTS_PER_FAN_OUT)
            .map(|chunk| {
                let body = serde_json::to_string(chunk)
                    .map_err(|e| Error::internal_from("writing a job as JSON", e))?;
                let group = lane.group(&chunk[0].organization_id);
                Ok(Message::new(body, chunk[0].request_id.clone()).in_group(Some(group)))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let url = &self.queues.webhook_url;
        self.queues.send(url, &messages).await.into_iter().collect()
    }

    /// Fans out events, reading each organization's endpoints once for all of its events (an
    /// import's batch is one organization's: one read, not one per event).
    async fn fan_out_all(
        &self,
        events: &[Event],
        lane: Lane,
        start_by: Instant,
    ) -> Result<(), Error> {
        let mut orgs: Vec<&str> = events.iter().map(|e| e.organization_id.as_str()).collect();
        orgs.sort_unstable();
        orgs.dedup();
        let reads = orgs
            .iter()
            .map(|org| store::webhooks::all(&self.app.table, org));
        let read = futures::future::try_join_all(reads).await?;
        let endpoints: HashMap<&str, Vec<WebhookEndpoint>> = orgs.into_iter().zip(read).collect();
        let fan_outs = events.iter().map(|event| {
            let subscribed = endpoints
                .get(event.organization_id.as_str())
                .into_iter()
                .flatten()
                .filter(|e| e.subscribes_to(event.kind))
                .cloned()
                .collect();
            self.fan_out(event, lane, subscribed, start_by)
        });
        futures::future::join_all(fan_outs)
            .await
            .into_iter()
            .collect()
    }

    /// One delivery per subscribed endpoint, then its first attempt. A repeated event finds
    /// its deliveries made and their first attempts claimed, so nothing is sent twice.
    async fn fan_out(
        &self,
        event: &Event,
        lane: Lane,
        endpoints: Vec<WebhookEndpoint>,
        start_by: Instant,
    ) -> Result<(), Error> {
        let payload = serde_json::to_string(event)
            .map_err(|e| Error::internal_from("writing a job as JSON", e))?;
        let what = Payload {
            event_id: &event.id,
            event_type: event.kind.as_str(),
            org_id: &event.organization_id,
            payload: &payload,
            lane,
        };
        let attempts = endpoints
            .into_iter()
            .map(|endpoint| self.first_attempt(&what, endpoint, start_by));
        futures::future::join_all(attempts)
            .await
            .into_iter()
            .collect()
    }

    /// A test event: one delivery, to the endpoint it names (gone meanwhile: nothing to do).
    async fn test(&self, note: &TestNote, start_by: Instant) -> Result<(), Error> {
        let found =
            store::webhooks::get(&self.app.table, &note.organization_id, &note.endpoint_id).await?;
        let Some(endpoint) = found else {
            return Ok(());
        };
        let payload = note.envelope().to_string();
        let what = Payload {
            event_id: &note.id,
            event_type: TEST_EVENT_TYPE,
            org_id: &note.organization_id,
            payload: &payload,
            lane: Lane::Interactive,
        };
        self.first_attempt(&what, endpoint, start_by).await
    }

    /// The delivery of an event to an endpoint (made once), then its first attempt.
    async fn first_attempt(
        &self,
        what: &Payload<'_>,
        endpoint: WebhookEndpoint,
        start_by: Instant,
    ) -> Result<(), Error> {
        let now = Utc::now();
        let delivery = Delivery {
            id: delivery_id(what.event_id, &endpoint.id),
            org_id: what.org_id.to_owned(),
            endpoint_id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            event_id: what.event_id.to_owned(),
            event_type: what.event_type.to_owned(),
            payload: what.payload.to_owned(),
            status: DeliveryStatus::Pending,
            attempt: 0,
            round_start: 0,
            lease_until: None,
            attempts: Vec::new(),
            created_at: now,
            updated_at: now,
            next_attempt_at: None,
            lane: what.lane,
        };
        {
            let _place = self.limits.place().await;
            store::deliveries::create_if_absent(&self.app.table, &delivery).await?;
        }
        let first = AttemptJob {
            delivery_id: delivery.id,
            org_id: delivery.org_id,
            attempt: 1,
            not_before: 0,
            endpoint_id: Some(endpoint.id.clone()),
            lane: what.lane,
        };
        self.attempt_to(first, Target::Read(Some(Box::new(endpoint))), start_by)
            .await
    }

    async fn attempt(&self, job: AttemptJob, start_by: Instant) -> Result<(), Error> {
        let target = match &job.endpoint_id {
            Some(id) => Target::Read(
                store::webhooks::get(&self.app.table, &job.org_id, id)
                    .await?
                    .map(Box::new),
            ),
            None => Target::Unread,
        };
        self.attempt_to(job, target, start_by).await
    }

    async fn attempt_to(
        &self,
        job: AttemptJob,
        target: Target,
        start_by: Instant,
    ) -> Result<(), Error> {
        let now = Utc::now();
        let waits = job.not_before > now.timestamp() || target.paused_after(now).is_some();
        // A place among the host's requests, in time to finish in this invocation (taken before
        // the instance's place: waiting for a busy host holds none of the others'); else the
        // attempt goes back to the queue unclaimed, for another invocation.
        let _host_place = match target.host().filter(|_| !waits) {
            Some(host) => match self.host_place(&host, start_by).await {
                Some(place) => Some(place),
                None => {
                    let _place = self.limits.place().await;
                    return self.hand_back(&job).await;
                }
            },
            None => None,
        };
        let _place = self.limits.place().await;
        if job.not_before > now.timestamp() {
            // A wait longer than SQS's 15-minute delay: another hop.
            return self
                .queue(
                    &job,
                    Duration::from_secs((job.not_before - now.timestamp()) as u64),
                )
                .await;
        }
        if let Some(until) = target.paused_after(now) {
            // The receiver asked to slow down: this attempt waits with the others, unclaimed
            // and uncounted; past what SQS can delay, parked in the table until the pause ends.
            crate::metrics::count("DeliveryAttemptsPaused", 1, &[]);
            let wait = (until - now).to_std().unwrap_or_default();
            if wait > schedule::MAX_SQS_DELAY {
                store::deliveries::park(
                    &self.app.table,
                    &job.org_id,
                    &job.delivery_id,
                    job.attempt,
                    until,
                )
                .await?;
                return Ok(());
            }
            let later = AttemptJob {
                not_before: until.timestamp(),
                ..job
            };
            return self.queue(&later, wait).await;
        }
        let delivery = match store::deliveries::claim(
            &self.app.table,
            &job.org_id,
            &job.delivery_id,
            job.attempt,
            now,
            LEASE_SECS,
        )
        .await?
        {
            AttemptClaim::Claimed(d) => *d,
            AttemptClaim::Done => return Ok(()),
            AttemptClaim::Busy => {
                return Err(Error::unavailable("the attempt is in progress elsewhere"))
            }
        };
        let endpoint = match target {
            Target::Read(endpoint) => endpoint.map(|e| *e),
            Target::Unread => {
                store::webhooks::get(&self.app.table, &delivery.org_id, &delivery.endpoint_id)
                    .await?
            }
        };
        let sent = self.send(&delivery, endpoint).await?;
        let record = AttemptRecord {
            attempt: job.attempt,
            at: now,
            latency_ms: sent.latency.as_millis() as u64,
            response_status: sent.status,
            error: sent.error.clone(),
        };
        tracing::info!(
            delivery_id = %delivery.id,
            endpoint_id = %delivery.endpoint_id,
            org_id = %delivery.org_id,
            event_type = %delivery.event_type,
            attempt = job.attempt,
            delivered = sent.delivered(),
            status = ?sent.status,
            error = ?sent.error,
            "webhook attempt"
        );
        crate::metrics::count(
            if sent.delivered() {
                "DeliveriesSucceeded"
            } else {
                "DeliveryAttemptsFailed"
            },
            1,
            &[],
        );
        if sent.delivered() {
            return store::deliveries::record(
                &self.app.table,
                &delivery,
                &record,
                DeliveryStatus::Delivered,
                Next::Never,
                now,
            )
            .await;
        }
        let made_this_round = (job.attempt - delivery.round_start) as usize;
        match (
            sent.permanent(),
            schedule::next_wait(&self.settings.schedule, made_this_round, sent.retry_after),
        ) {
            (false, Some(wait)) => {
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                if sent.asks_to_slow_down() {
                    // Every delivery to this receiver waits as long as this one.
                    store::webhooks::pause(&self.app.table, &job.org_id, &delivery.endpoint_id, at)
                        .await?;
                }
                // A wait SQS can hold is a delayed message; a longer one parks the delivery in
                // the table until the sweeper wakes it (no message hops every 15 minutes).
                let next = if wait > schedule::MAX_SQS_DELAY {
                    Next::Parked(at)
                } else {
                    let next = AttemptJob {
                        attempt: job.attempt + 1,
                        not_before: at.timestamp(),
                        ..job
                    };
                    // Queued before recording: if recording fails, the retry's claim still holds.
                    self.queue(&next, wait).await?;
                    Next::Queued(at)
                };
                store::deliveries::record(
                    &self.app.table,
                    &delivery,
                    &record,
                    DeliveryStatus::Pending,
                    next,
                    now,
                )
                .await
            }
            _ => {
                crate::metrics::count("DeliveriesFailed", 1, &[]);
                store::deliveries::record(
                    &self.app.table,
                    &delivery,
                    &record,
                    DeliveryStatus::Failed,
                    Next::Never,
                    now,
                )
                .await
            }
        }
    }

    /// One signed POST of the delivery's payload to its endpoint (as read).
    async fn send(&self, d: &Delivery, endpoint: Option<WebhookEndpoint>) -> Result<Sent, Error> {
        let started = std::time::Instant::now();
        let Some(endpoint) = endpoint else {
            return Ok(Sent::refused("the endpoint was removed", started));
        };
        if endpoint.disabled {
            return Ok(Sent::refused("the endpoint is disabled", started));
        }
        let url = match reqwest::Url::parse(&endpoint.url) {
            Ok(url) if target::literal_host_allowed(&url, self.settings.allow_private_targets) => {
                url
            }
            Ok(_) => return Ok(Sent::refused("the target address is not public", started)),
            Err(_) => return Ok(Sent::refused("the endpoint URL is invalid", started)),
        };
        let now = Utc::now();
        let timestamp = now.timestamp();
        // Every secret that signs now (a rotated one for its overlap), space-separated.
        let signatures = endpoint
            .signing_secrets(now)
            .into_iter()
            .map(|sealed| {
                let secret = self.app.sealer.open(sealed)?;
                signing::sign(&secret, &d.event_id, timestamp, &d.payload)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let signature = signatures.join(" ");
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(d.payload.clone())
            .send()
            .await;
        Ok(match response {
            Ok(res) => Sent {
                status: Some(res.status().as_u16()),
                error: None,
                retry_after: res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| schedule::parse_retry_after(v, Utc::now())),
                latency: started.elapsed(),
                refused: false,
            },
            // Connection and DNS failures (including a refused private address) and timeouts.
            Err(err) => {
                let refused = target::is_refusal(&err);
                Sent {
                    status: None,
                    error: Some(describe(&err)),
                    retry_after: None,
                    latency: started.elapsed(),
                    refused,
                }
            }
        })
    }

    /// A place among the requests to `host`, by `start_by` at the latest.
    async fn host_place(&self, host: &str, start_by: Instant) -> Option<limits::HostPlace> {
        if Instant::now() >= start_by {
            return None;
        }
        self.limits.host(host, start_by).await
    }

    /// An attempt this invocation has no time or place for, back on the queue as it came.
    async fn hand_back(&self, job: &AttemptJob) -> Result<(), Error> {
        crate::metrics::count("DeliveryAttemptsHandedBack", 1, &[]);
        self.queue(job, Duration::ZERO).await
    }

    async fn queue(&self, job: &AttemptJob, wait: Duration) -> Result<(), Error> {
        let body = serde_json::to_string(job)
            .map_err(|e| Error::internal_from("writing a job as JSON", e))?;
        let message = Message {
            delay_secs: wait.min(schedule::MAX_SQS_DELAY).as_secs() as i32,
            ..Message::new(body, None).in_group(Some(job.group()))
        };
        self.queues
            .send_one(&self.queues.webhook_url, message)
            .await
    }
}

/// An attempt's endpoint: read before the claim (`None`: removed), or not yet (a job queued
/// before jobs named their endpoint).
enum Target {
    Read(Option<Box<WebhookEndpoint>>),
    Unread,
}

impl Target {
    /// The host its deliveries go to, when it is read.
    fn host(&self) -> Option<String> {
        match self {
            Target::Read(Some(endpoint)) => reqwest::Url::parse(&endpoint.url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_owned)),
            _ => None,
        }
    }

    /// When the endpoint's pause ends, if it is paused past `now`.
    fn paused_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Target::Read(Some(endpoint)) => endpoint.paused_until.filter(|until| *until > now),
            _ => None,
        }
    }
}

/// What is delivered: an event's id, type, organization and exact body.
struct Payload<'a> {
    event_id: &'a str,
    event_type: &'a str,
    org_id: &'a str,
    payload: &'a str,
    lane: Lane,
}

/// The outcome of one POST.
struct Sent {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<Duration>,
    latency: Duration,
    /// Not to be retried: the target is not allowed or gone.
    refused: bool,
}

impl Sent {
    fn refused(why: &str, started: std::time::Instant) -> Self {
        Sent {
            status: None,
            error: Some(why.to_owned()),
            retry_after: None,
            latency: started.elapsed(),
            refused: true,
        }
    }

    /// The receiver is overloaded (429, 503): it is paused, not only this delivery.
    fn asks_to_slow_down(&self) -> bool {
        matches!(self.status, Some(429 | 503))
    }

    fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// 410 Gone means the receiver wants no more (Standard Webhooks); refusals never change.
    fn permanent(&self) -> bool {
        self.refused || self.status == Some(410)
    }
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}

/// The Lambda handler: each record on its own; failures are reported, never the whole batch.
pub async fn handle(worker: &WebhookWorker, event: SqsEvent) -> SqsBatchResponse {
    handle_by(worker, event, std::time::SystemTime::now() + DEFAULT_BUDGET).await
}

/// [`handle`] within an invocation that ends at `deadline` (Lambda's): an attempt starts only
/// while it can finish before it.
pub async fn handle_by(
    worker: &WebhookWorker,
    event: SqsEvent,
    deadline: std::time::SystemTime,
) -> SqsBatchResponse {
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    let start_by = Instant::now() + left.saturating_sub(worker.settings.timeout + START_MARGIN);
    worker::process_batch(event, |message| worker.process(message, start_by)).await
}

/// The organization's latest deliveries in `status`, at most `limit` (≤ 100: one Query).
pub async fn list(
    app: &App,
    org_id: &str,
    status: DeliveryStatus,
    limit: i32,
) -> Result<Vec<Delivery>, Error> {
    store::deliveries::by_status(&app.table, org_id, status, limit).await
}

/// Replays a settled delivery: pending again, the schedule starts over, and its next attempt
/// is written with it (the relay queues it).
pub async fn replay(
    app: &App,
    org_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Delivery, Error> {
    use crate::error::Resource;
    crate::ids::require(crate::ids::Kind::Delivery, id)?;
    let jobs = Outbox::new(vec![Job::NextAttempt]);
    match store::deliveries::reopen(&app.table, org_id, id, now, &jobs).await? {
        Some(delivery) => Ok(delivery),
        None => match store::deliveries::get(&app.table, org_id, id).await? {
            Some(_) => Err(Error::Conflict {
                reason: crate::error::Conflict::Pending,
                message: "The delivery is still being attempted".into(),
            }),
            None => Err(Error::not_found(Resource::Delivery, id)),
        },
    }
}
