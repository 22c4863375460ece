//! Write sharding of the index partitions many writes land in at once: the sweeper's `DUE` and
//! `EXPIRES` (every tenant's) and a training flow's invitations by number (`INVNUM`, `OPEN`).
//! Each is [`SHARDS`] partition keys instead of one, so an import of 5,000 addresses, or one
//! tenant's burst, spreads its index writes over 16 partitions (docs/bench/capacity.md), and readers
//! query every shard.

use sha2::{Digest, Sha256};

/// Shards per sharded partition.
pub const SHARDS: u64 = 16;

/// The shard of a record named by `id` (a stable hash: the same on every write of it).
pub fn of_id(id: &str) -> u64 {
    let digest = Sha256::digest(id.as_bytes());
    u64::from(digest[0]) % SHARDS
}

/// The shard of a numbered record: consecutive numbers land in consecutive shards.
pub fn of_number(number: u64) -> u64 {
    number % SHARDS
}

/// Every shard's partition key, `<prefix>#<shard>`.
pub fn all(prefix: &str) -> impl Iterator<Item = String> + '_ {
    (0..SHARDS).map(move |shard| format!("{prefix}#{shard}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(of_id("asgn_1"), of_id("asgn_1"));
        let used: std::collections::HashSet<u64> =
            (0..200).map(|i| of_id(&format!("inv_{i}"))).collect();
        assert_eq!(used.len() as u64, SHARDS, "200 ids use every shard");
        assert_eq!((of_number(0), of_number(17)), (0, 1));
        assert_eq!(all("DUE").count() as u64, SHARDS);
        assert_eq!(all("DUE").next().as_deref(), Some("DUE#0"));
    }
}
