//! Invitations: one record per invited email, seen through two APIs (seed 001's invitations of
//! a flow, seeds 003/004's invitation flows).

pub mod addresses;
