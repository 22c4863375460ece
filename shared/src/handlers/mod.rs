//! One handler per endpoint; each `functions/` binary calls exactly one of these.

pub mod accept;
pub mod assignments;
pub mod deliveries;
pub mod endpoints;
pub mod flows;
pub mod invitations;
pub mod organization;
pub mod user_groups;
