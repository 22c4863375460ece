//! Inflow's domain crate. Every Lambda binary in `functions/` is a thin `main.rs` that builds
//! an [`App`] once per container and hands each event to one handler in [`handlers`].

pub mod app;
pub mod assignments;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod handlers;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod model;
pub mod orgs;
pub mod ratelimit;
pub mod store;
pub mod telemetry;
pub mod user_groups;
pub mod validate;
pub mod webhooks;
pub mod wire;

pub use app::App;
pub use config::Config;
pub use error::{Error, Result};
