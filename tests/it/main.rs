//! Every integration test in one binary (one link of the AWS SDK, not one per topic). Each
//! module is a topic, driven against the emulator `make test` starts (MOTO_PORT, scripts/env.sh).

mod accept;
mod assign;
mod call_counter;
mod email;
mod endpoints;
mod event_schemas;
mod flows;
mod hostile;
mod hostile_invitations;
mod iam;
mod idempotency;
mod invitations;
mod operations;
mod organization;
mod outbox;
mod progress;
mod public_limits;
mod rate_limit;
mod raw_events;
mod relay_sample;
mod round_trips;
mod routes;
mod samples;
mod secrets;
mod sweeper;
mod tenants;
mod tls;
mod user_groups;
mod webhook_worker_sample;
mod webhooks;
