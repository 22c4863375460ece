//! API keys: generation, the keyed hash we store instead of the key, and their kinds.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{error::Error, ids};

type HmacSha256 = Hmac<Sha256>;

/// Which kind of key: admin secret keys (`sk_…`) or publishable user keys (`pk_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Admin,
    User,
}

impl KeyKind {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Admin => "sk",
            KeyKind::User => "pk",
        }
    }

    pub fn of(key: &str) -> Option<KeyKind> {
        match key.split_once('_')?.0 {
            "sk" => Some(KeyKind::Admin),
            "pk" => Some(KeyKind::User),
            _ => None,
        }
    }
}

/// A key in plain text. It exists only between creation and the one response that shows it,
/// and between a request's header and its hash; `Debug` never prints it.
pub struct PlainKey(String);

impl PlainKey {
    pub fn generate(kind: KeyKind) -> Self {
        PlainKey(format!("{}_{}", kind.prefix(), ids::random(40)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainKey(<redacted>)")
    }
}

/// Keyed hashing of secrets (API keys, tokens, flow secrets). The key is derived from the app
/// secret in Secrets Manager, read once per container, so a copy of the table alone cannot be
/// used to test guesses.
#[derive(Clone)]
pub struct Hasher {
    key: Vec<u8>,
}

impl Hasher {
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            key: derive(secret, b"inflow/hash/v1"),
        }
    }

    /// Hex HMAC-SHA256 of `value`, tagged with a purpose so one secret's hash never equals
    /// another kind's.
    pub fn hash(&self, purpose: &str, value: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn hash_api_key(&self, key: &str) -> String {
        self.hash("api-key", key)
    }
}

/// Reads the app secret, the root of every key we derive (hashing, sealing).
pub async fn load_app_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<Vec<u8>, Error> {
    let value = secrets
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            Error::Config(format!(
                "cannot read secret {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))
        })?;
    value
        .secret_string()
        .filter(|s| s.len() >= 16)
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| {
            Error::Config(format!(
                "secret {secret_id} is missing or shorter than 16 characters"
            ))
        })
}

/// Encrypts secrets we must be able to read back (webhook signing secrets), with AES-256-GCM
/// under a key derived from the app secret.
#[derive(Clone)]
pub struct Sealer {
    key: aes_gcm::Key<aes_gcm::Aes256Gcm>,
}

impl Sealer {
    pub fn from_secret(secret: &[u8]) -> Self {
        let derived = derive(secret, b"inflow/seal/v1");
        Self {
            key: aes_gcm::Key::<aes_gcm::Aes256Gcm>::try_from(derived.as_slice())
                .expect("HMAC-SHA256 gives the 32 bytes AES-256 takes"),
        }
    }

    /// base64(nonce || ciphertext)
    pub fn seal(&self, plain: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.seal_bytes(plain.as_bytes()))
    }

    pub fn open(&self, sealed: &str) -> Result<String, Error> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| unopenable())?;
        String::from_utf8(self.open_bytes(&raw)?).map_err(|_| unopenable())
    }

    /// nonce || ciphertext
    pub fn seal_bytes(&self, plain: &[u8]) -> Vec<u8> {
        use aes_gcm::{
            aead::{Aead, Generate, KeyInit},
            Aes256Gcm, Nonce,
        };
        let cipher = Aes256Gcm::new(&self.key);
        // A random 96-bit nonce from the OS: few enough seals per key that collisions are moot.
        let nonce = Nonce::generate();
        let sealed = cipher
            .encrypt(&nonce, plain)
            .expect("AES-GCM encrypts anything under 64 GiB");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open_bytes(&self, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        use aes_gcm::{
            aead::{Aead, KeyInit},
            Aes256Gcm, Nonce,
        };
        if sealed.len() < 12 {
            return Err(unopenable());
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        Aes256Gcm::new(&self.key)
            .decrypt(
                &Nonce::try_from(nonce).expect("split at the nonce's 12 bytes"),
                ciphertext,
            )
            .map_err(|_| unopenable())
    }
}

fn unopenable() -> Error {
    Error::internal("a sealed value could not be opened")
}

fn derive(secret: &[u8], label: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_carry_their_kind() {
        let key = PlainKey::generate(KeyKind::Admin);
        assert_eq!(KeyKind::of(key.expose()), Some(KeyKind::Admin));
        assert_eq!(
            KeyKind::of(PlainKey::generate(KeyKind::User).expose()),
            Some(KeyKind::User)
        );
        assert_eq!(KeyKind::of("xx_abc"), None);
        assert_eq!(KeyKind::of("sk"), None);
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn hashes_depend_on_secret_purpose_and_value() {
        let a = Hasher::from_secret(b"0123456789abcdef");
        let b = Hasher::from_secret(b"fedcba9876543210");
        assert_eq!(a.hash_api_key("sk_1"), a.hash_api_key("sk_1"));
        assert_ne!(a.hash_api_key("sk_1"), b.hash_api_key("sk_1"));
        assert_ne!(a.hash_api_key("sk_1"), a.hash_api_key("sk_2"));
        assert_ne!(a.hash("api-key", "x"), a.hash("token", "x"));
        assert_eq!(a.hash_api_key("sk_1").len(), 64);
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let a = Sealer::from_secret(b"0123456789abcdef");
        let sealed = a.seal("whsec_abc");
        assert!(!sealed.contains("whsec"));
        assert_ne!(sealed, a.seal("whsec_abc"), "nonces differ");
        assert_eq!(a.open(&sealed).unwrap(), "whsec_abc");
        assert!(Sealer::from_secret(b"fedcba9876543210")
            .open(&sealed)
            .is_err());
        assert!(a.open("not base64!").is_err());
    }
}
