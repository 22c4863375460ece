//! Per-client-address windows for the routes that anyone may call: consume, whose publishable
//! key (`pk_…`) sits in front-end code, and the hosted accept page, which takes no key.
//!
//! Counted per key alone, one script sending junk at the start of each minute would spend an
//! organization's whole window and lock its invitees out. So each client address first has its
//! own window (per key, or per route for the accept page), and only what it admits is counted
//! against the key: a flood from one address is refused on its own counter and never reaches
//! the key's. The address is API Gateway's `requestContext.http.sourceIp`, which a client
//! cannot set; an IPv6 address counts by its /64, since that is what one host is usually given.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use crate::{app::App, error::Error, ratelimit, refusals::Refusals, store};
use chrono::{DateTime, Utc};

/// Requests one client address may make per minute on one publishable key, or on the accept
/// page. An invitee makes a few; an office behind one NAT accepting at once waits a minute
/// after its 20th. One address can so take at most a fifth of a standard key's window: it
/// takes five addresses flooding every minute to lock a standard key's invitees out, fifty
/// for an enterprise key.
pub const PER_ADDRESS_PER_MINUTE: u32 = 20;

/// The address a request is counted under, from API Gateway's `sourceIp`.
pub fn client_address(source_ip: Option<&str>) -> String {
    source_ip.map_or_else(|| "unknown".to_owned(), bucket)
}

/// IPv4 as it is; IPv6 by its /64 (IPv4-mapped ones as the IPv4 address); anything else as
/// one shared bucket.
fn bucket(source: &str) -> String {
    match source.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => "unknown".to_owned(),
    }
}

/// Addresses (with their scope) this container refused in their current window.
static REFUSED: Refusals = Refusals::new();

/// Refuses, with no I/O, an address this container already refused in its current window of
/// `scope`: the pipelines ask before anything else starts (a prefetch included), so a flood from
/// one address costs one DynamoDB write per container and minute, however fast it comes.
pub fn refused_lately(scope: &str, address: &str, now: DateTime<Utc>) -> Result<(), Error> {
    match REFUSED.holds(&remembered(scope, address), Instant::now()) {
        Some(_) => Err(refused(now)),
        None => Ok(()),
    }
}

/// Counts the request in its address's window of `scope` (a key's hash, or a route's name);
/// a 429 once the window is full, remembered for the rest of the window.
pub async fn admit(app: &App, scope: &str, address: &str, now: DateTime<Utc>) -> Result<(), Error> {
    refused_lately(scope, address, now)?;
    let counted = store::address_limits::count(
        &app.table,
        scope,
        address,
        ratelimit::window_of(now),
        PER_ADDRESS_PER_MINUTE,
    )
    .await?;
    match counted {
        Some(_) => Ok(()),
        None => {
            let left = Duration::from_secs(ratelimit::seconds_to_reset(now));
            let at = Instant::now();
            REFUSED.remember(&remembered(scope, address), at + left, at);
            Err(refused(now))
        }
    }
}

fn remembered(scope: &str, address: &str) -> String {
    format!("{scope}\n{address}")
}

fn refused(now: DateTime<Utc>) -> Error {
    Error::RateLimited {
        retry_after: ratelimit::seconds_to_reset(now),
        limit: PER_ADDRESS_PER_MINUTE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_bucketed() {
        assert_eq!(bucket("203.0.113.9"), "203.0.113.9");
        assert_eq!(bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(bucket("2001:db8:1:2:bbbb::9"), bucket("2001:db8:1:2::1"));
        assert_ne!(bucket("2001:db8:1:3::1"), bucket("2001:db8:1:2::1"));
        assert_eq!(bucket("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(bucket("not an address"), "unknown");
    }
}
