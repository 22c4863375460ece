//! The Lambda function run every minute by a schedule: overdue assignments, expired invitations.

inflow::event_function!(inflow::sweeper::Sweeper::from_env, fallible inflow::sweeper::handle);
