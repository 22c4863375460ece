//! `Idempotency-Key` (IETF draft semantics): the first successful response for a key is kept
//! 24 hours and replayed for a retry with the same request; the same key with another request
//! gets 422; a retry while the first is still running gets 409. Failed requests keep nothing,
//! so that bad input changes nothing and a retry after a failure runs again. After 24 hours the
//! key is spent: the same key is a new request, which acts again (its record's generation is
//! new, and so is its mark).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{
    app::App,
    error::Error,
    model::Caller,
    store::idempotency::{self as records, KeyClaim, Stored},
};

pub const HEADER: &str = "idempotency-key";
/// Marks a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The mark of a request that holds an Idempotency-Key: its organization, key and fingerprint,
/// hashed with the app secret. What the request makes carries it (`made_by`), and ids and
/// secrets it makes are derived from it, so that a retry that takes over an abandoned claim (the
/// first run died after its writes, before its response was kept) recognises the first run's
/// records and answers as that run would have, instead of making them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark(String);

impl Mark {
    /// The mark of one use (`generation`) of `key` by `org_id` for the request `fingerprint`:
    /// the same on every retry of that use; another after the key's record expired.
    fn of(app: &App, org_id: &str, key: &str, fingerprint: &str, generation: &str) -> Self {
        let material = format!("{org_id}\0{key}\0{fingerprint}\0{generation}");
        Mark(app.hasher.hash("request-mark", &material)[..32].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id for what the request makes: the same on every retry of it.
    pub fn id(&self, hasher: &crate::keys::Hasher, kind: crate::ids::Kind) -> String {
        let prefix = kind.prefix();
        format!("{prefix}_{}", &hasher.hash(prefix, &self.0)[..24])
    }

    /// Random-looking characters (base62) that only this request and the app secret give.
    pub fn secret_chars(&self, hasher: &crate::keys::Hasher, purpose: &str, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = String::with_capacity(len);
        let mut round = 0;
        while out.len() < len {
            let digest = hasher.hash(purpose, &format!("{}\0{round}", self.0));
            for pair in digest.as_bytes().chunks(2) {
                let byte =
                    u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("00"), 16).unwrap_or(0);
                // 248 = 4 × 62: the bytes above it are dropped, so every character is as likely.
                if byte < 248 && out.len() < len {
                    out.push(ALPHABET[(byte % 62) as usize] as char);
                }
            }
            round += 1;
        }
        out
    }
}

pub struct Held {
    key: String,
    pub mark: Mark,
}

/// A kept response, as it is answered again.
pub struct Replayed {
    pub status: u16,
    pub body: String,
}

pub enum Begin {
    /// Run the request; `Some` when it holds a key it must finish.
    Proceed(Option<Held>),
    Replay(Replayed),
}

/// What a request presents: its `Idempotency-Key` as sent, and what its fingerprint covers.
pub struct Presented<'a> {
    pub key: Option<&'a [u8]>,
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
}

pub async fn begin(
    app: &App,
    caller: &Caller,
    honoured: bool,
    req: Presented<'_>,
    now: DateTime<Utc>,
) -> Result<Begin, Error> {
    let Some(raw) = req.key else {
        return Ok(Begin::Proceed(None));
    };
    if !honoured {
        return Ok(Begin::Proceed(None));
    }
    let key = std::str::from_utf8(raw)
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
    let fingerprint = fingerprint(req.method, req.path, req.body);
    let claim = records::claim(
        &app.table,
        &caller.org_id,
        key,
        &fingerprint,
        now.timestamp(),
    )
    .await?;
    match claim {
        KeyClaim::Fresh { generation } => Ok(Begin::Proceed(Some(Held {
            key: key.to_owned(),
            mark: Mark::of(app, &caller.org_id, key, &fingerprint, &generation),
        }))),
        KeyClaim::Replay(stored) => Ok(Begin::Replay(Replayed {
            status: stored.status,
            body: unpack(&app.sealer, &stored.blob)?,
        })),
        KeyClaim::InFlight => Err(Error::IdempotencyInFlight),
        KeyClaim::Mismatch => Err(Error::IdempotencyMismatch),
    }
}

/// Keeps a successful response for replay, or gives the key back.
///
/// Should keeping fail (a throttle, an outage), the claim stays pending and a retry takes it
/// over after [`records::LOCK_SECS`] and runs the request again; that is safe because what the
/// request makes is recognised by its [`Mark`], so the retry answers as the first run did.
/// A failure of ours or of a dependency (5xx) may have written part of the request's work: its
/// key is given back for a retry of the same request to take over, with the same mark. A
/// refusal (4xx) wrote nothing: its key is forgotten.
pub async fn finish(
    app: &App,
    org_id: &str,
    held: &Held,
    status: u16,
    body: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    match status {
        200..=299 => {
            let stored = Stored {
                status,
                blob: pack(&app.sealer, body.unwrap_or_default())?,
            };
            records::record(&app.table, org_id, &held.key, &stored, now.timestamp()).await
        }
        500.. => records::release(&app.table, org_id, &held.key).await,
        _ => records::forget(&app.table, org_id, &held.key).await,
    }
}

/// A body as it is kept: compressed (a 5,000-address import's answer is mostly repeated
/// field names), then sealed, since responses can hold secrets shown once (a new token, a
/// flow secret).
fn pack(sealer: &crate::keys::Sealer, body: &str) -> Result<Vec<u8>, Error> {
    use std::io::Write;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(body.as_bytes())
        .and_then(|()| z.finish())
        .map(|compressed| sealer.seal_bytes(&compressed))
        .map_err(|e| Error::internal_from("compressing a response", e))
}

fn unpack(sealer: &crate::keys::Sealer, blob: &[u8]) -> Result<String, Error> {
    use std::io::Read;
    let compressed = sealer.open_bytes(blob)?;
    let mut body = String::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .read_to_string(&mut body)
        .map_err(|e| Error::internal_from("a kept response does not inflate", e))?;
    Ok(body)
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
    fn marks_give_stable_ids_and_secrets() {
        let h = crate::keys::Hasher::from_secret(b"0123456789abcdef");
        let (a, b) = (Mark("a".into()), Mark("b".into()));
        assert_eq!(
            a.id(&h, crate::ids::Kind::Invitation),
            a.id(&h, crate::ids::Kind::Invitation)
        );
        assert_ne!(
            a.id(&h, crate::ids::Kind::Invitation),
            b.id(&h, crate::ids::Kind::Invitation)
        );
        assert!(crate::ids::looks_like(
            crate::ids::Kind::Invitation,
            &a.id(&h, crate::ids::Kind::Invitation)
        ));
        let secret = a.secret_chars(&h, "flow-secret", 40);
        assert_eq!(secret.len(), 40);
        assert!(secret.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(secret, a.secret_chars(&h, "flow-secret", 40));
        assert_ne!(secret, b.secret_chars(&h, "flow-secret", 40));
        assert_ne!(secret, a.secret_chars(&h, "other", 40));
    }

    #[test]
    fn kept_bodies_come_back_whole_and_smaller() {
        let sealer = crate::keys::Sealer::from_secret(b"0123456789abcdef");
        let body = r#"{"invitations":["#.to_owned()
            + &vec![r#"{"id":"inv_x","email":"p@example.com","state":"PENDING"}"#; 500].join(",")
            + "]}";
        let blob = pack(&sealer, &body).unwrap();
        assert!(
            blob.len() * 10 < body.len(),
            "{} of {}",
            blob.len(),
            body.len()
        );
        assert_eq!(unpack(&sealer, &blob).unwrap(), body);
        assert!(unpack(
            &crate::keys::Sealer::from_secret(b"another secret!!"),
            &blob
        )
        .is_err());
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint("POST", "/v1/flows/assign", b"{}");
        assert_eq!(a, fingerprint("POST", "/v1/flows/assign", b"{}"));
        assert_ne!(a, fingerprint("POST", "/v1/flows/assign", b"{ }"));
        assert_ne!(a, fingerprint("POST", "/v1/other", b"{}"));
    }
}
