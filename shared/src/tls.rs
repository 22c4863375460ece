//! The HTTPS client every AWS SDK client of a function shares, and the roots it trusts.
//!
//! The SDK's default client loads the platform's trust store: some 140 PEM roots parsed at the
//! first request, which was 2.8 ms of the 5.9 ms of CPU a function spent in init
//! (docs/bench/benchmarks.md), and ~14× that at 128 MB. Every AWS service endpoint presents an Amazon
//! Trust Services certificate, so the five roots those chain to are enough. `AWS_CA_BUNDLE` (the
//! AWS CLI's variable for the same thing) replaces them with a PEM bundle of your own, e.g. for
//! a TLS-inspecting proxy in front of the endpoints.
//!
//! Outbound webhooks do not use this client: they go to any host on the web, so they trust the
//! web's roots ([`public_roots`]).

use aws_smithy_http_client::{
    tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore},
    Builder,
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::{pem::PemObject, CertificateDer};

use crate::error::Error;

/// Amazon Root CA 1-4 and Starfield Services Root CA G2, as AWS documents for its endpoints.
const AMAZON_ROOTS: &[u8] = include_bytes!("tls/amazon-roots.pem");

/// The client, with the roots from `AWS_CA_BUNDLE` if set, else Amazon's.
pub fn http_client() -> Result<SharedHttpClient, Error> {
    let roots = match std::env::var_os("AWS_CA_BUNDLE") {
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| {
                Error::Config(format!("AWS_CA_BUNDLE {}: {e}", path.to_string_lossy()))
            })?;
            // The SDK parses the roots when it first connects, and panics on one it cannot
            // use. (Amazon's are checked by a test: parsing PEM is most of what they cost.)
            check_roots(&pem)?;
            pem
        }
        None => AMAZON_ROOTS.to_vec(),
    };
    let trust = TrustStore::empty().with_pem_certificate(roots);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| Error::Config(format!("TLS settings: {e}")))?;
    Ok(Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// TLS for webhook deliveries: Mozilla's root set as webpki-roots compiles it in (trust anchors
/// already parsed), so the worker's init parses no trust store; reqwest 0.13's default, the
/// platform's store, cost 2.6-2.9 ms of CPU at every cold start (docs/bench/profiles.md). The set is
/// the one Lambda's own CA bundle comes from; it moves with the crate, not the image.
pub fn public_roots() -> Result<rustls::ClientConfig, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS settings: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The client speaks HTTP/1.1 only (reqwest without http2).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Every certificate in `pem` parses and can serve as a trust anchor; there is at least one.
fn check_roots(pem: &[u8]) -> Result<(), Error> {
    let invalid = |reason: String| Error::Config(format!("AWS_CA_BUNDLE: {reason}"));
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not a PEM bundle ({e})")))?;
    if certs.is_empty() {
        return Err(invalid("no certificate in it".into()));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        store
            .add(cert)
            .map_err(|e| invalid(format!("certificate {} is not a usable root ({e})", i + 1)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_trust_the_webs_roots() {
        let config = public_roots().unwrap();
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        // ISRG Root X1 (Let's Encrypt), which most receivers' certificates chain to.
        assert!(webpki_roots::TLS_SERVER_ROOTS.iter().any(|a| a
            .subject
            .as_ref()
            .windows(12)
            .any(|w| w == b"ISRG Root X1")));
    }

    #[test]
    fn the_amazon_roots_are_five_usable_anchors() {
        check_roots(AMAZON_ROOTS).unwrap();
        assert_eq!(CertificateDer::pem_slice_iter(AMAZON_ROOTS).count(), 5);
    }

    #[test]
    fn a_bundle_without_usable_roots_is_a_config_error_not_a_panic_later() {
        for bad in [
            &b""[..],
            b"not pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let error = check_roots(bad).expect_err("rejected");
            assert!(matches!(error, Error::Config(_)), "{error:?}");
        }
    }
}
