//! The relay: the jobs that writes recorded, from the table's stream to the queues.

inflow::event_function!(inflow::relay::Relay::from_env, inflow::relay::handle_raw);
