//! What `inflowctl` does beyond calling the domain crate, as a library so that the tests run it
//! as the operator does.

pub mod cli;
pub mod listing;
pub mod redrive;
pub mod settings;
pub mod table;
