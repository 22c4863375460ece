//! `Idempotency-Key` (IETF draft semantics): the first successful response for a key is kept
//! 24 hours and replayed for a retry with the same request; the same key with another request
//! gets 422; a retry while the first is still running gets 409. Failed requests keep nothing,
//! so that bad input changes nothing and a retry after a failure runs again.

use chrono::{DateTime, Utc};
use lambda_http::Request;
use sha2::{Digest, Sha256};

use crate::{
    app::App,
    error::Error,
    model::Caller,
    store::idempotency::{self as records, Claim, Stored},
};

pub const HEADER: &str = "idempotency-key";
/// Marks a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

pub struct Held {
    key: String,
}

pub enum Begin {
    /// Run the request; `Some` when it holds a key it must finish.
    Proceed(Option<Held>),
    Replay(Stored),
}

pub async fn begin(
    app: &App,
    caller: &Caller,
    honoured: bool,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Begin, Error> {
    let Some(raw) = req.headers().get(HEADER) else {
        return Ok(Begin::Proceed(None));
    };
    if !honoured {
        return Ok(Begin::Proceed(None));
    }
    let key = raw
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        })
        .ok_or_else(|| {
            Error::invalid(
                "Idempotency-Key",
                "must be 1-255 printable ASCII characters",
            )
        })?;
    let fingerprint = fingerprint(req.method().as_str(), req.uri().path(), req.body().as_ref());
    let claim = records::claim(
        &app.ddb,
        &app.config.table_name,
        &caller.org_id,
        key,
        &fingerprint,
        now.timestamp(),
    )
    .await?;
    match claim {
        Claim::Fresh => Ok(Begin::Proceed(Some(Held {
            key: key.to_owned(),
        }))),
        Claim::Replay(stored) => Ok(Begin::Replay(Stored {
            body: app.sealer.open(&stored.body)?,
            ..stored
        })),
        Claim::InFlight => Err(Error::IdempotencyInFlight),
        Claim::Mismatch => Err(Error::IdempotencyMismatch),
    }
}

/// Keeps a successful response for replay, or gives the key back.
pub async fn finish(
    app: &App,
    org_id: &str,
    held: &Held,
    kept: Option<(u16, String)>,
) -> Result<(), Error> {
    let table = &app.config.table_name;
    match kept {
        // Responses can hold secrets shown once (a new token, a flow secret): kept sealed.
        Some((status, body)) => {
            let stored = Stored {
                status,
                body: app.sealer.seal(&body),
            };
            records::record(&app.ddb, table, org_id, &held.key, &stored).await
        }
        None => records::release(&app.ddb, table, org_id, &held.key).await,
    }
}

/// What makes two requests "the same": method, path and exact body bytes.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update([0]);
    hash.update(path.as_bytes());
    hash.update([0]);
    hash.update(body);
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint("POST", "/v1/flows/assign", b"{}");
        assert_eq!(a, fingerprint("POST", "/v1/flows/assign", b"{}"));
        assert_ne!(a, fingerprint("POST", "/v1/flows/assign", b"{ }"));
        assert_ne!(a, fingerprint("POST", "/v1/other", b"{}"));
    }
}
