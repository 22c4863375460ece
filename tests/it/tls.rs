//! The functions' HTTPS client (shared/src/tls.rs) through a real TLS handshake: a TLS front for
//! the emulator (bench/tls_proxy.py) with a certificate from a throwaway CA
//! (scripts/tls-cert.sh). Amazon's roots refuse it; `AWS_CA_BUNDLE` naming that CA accepts it.

use std::{path::PathBuf, process::Command, time::Duration};

use aws_sdk_dynamodb::{error::DisplayErrorContext, types::AttributeValue};
use inflow_tests::Env;

struct Proxy(std::process::Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get_item(env: &Env, endpoint: &str) -> Result<(), String> {
    let sdk = inflow::app::sdk_config().await.map_err(|e| e.to_string())?;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
        .get_item()
        .table_name(&env.app.config.table_name)
        .key("PK", AttributeValue::S("TLS".into()))
        .key("SK", AttributeValue::S("TLS".into()))
        .send()
        .await
        .map(drop)
        .map_err(|e| DisplayErrorContext(&e).to_string())
}

#[tokio::test]
async fn aws_calls_trust_amazons_roots_or_the_bundle_named_by_aws_ca_bundle() {
    let env = Env::new().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let certs = std::env::temp_dir().join(format!("inflow-tls-test-{}", std::process::id()));
    let made = Command::new(root.join("scripts/tls-cert.sh"))
        .arg(&certs)
        .status()
        .expect("scripts/tls-cert.sh runs");
    assert!(made.success(), "scripts/tls-cert.sh failed");

    let emulator = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL is set");
    let emulator_port = emulator.rsplit(':').next().unwrap().trim_end_matches('/');
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = [root.join(".venv/bin/python"), PathBuf::from("python3")]
        .into_iter()
        .find(|p| p.components().count() == 1 || p.exists())
        .unwrap();
    let _proxy = Proxy(
        Command::new(python)
            .arg(root.join("bench/tls_proxy.py"))
            .args([&port.to_string(), emulator_port])
            .arg(certs.join("leaf.pem"))
            .arg(certs.join("leaf.key"))
            .spawn()
            .expect("bench/tls_proxy.py starts"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let endpoint = format!("https://127.0.0.1:{port}");

    // Each test runs in a process of its own (nextest), so the variable is this test's alone.
    std::env::remove_var("AWS_CA_BUNDLE");
    let refused = get_item(&env, &endpoint).await.expect_err("an unknown CA");
    assert!(refused.contains("certificate"), "{refused}");

    std::env::set_var("AWS_CA_BUNDLE", certs.join("ca.pem"));
    get_item(&env, &endpoint)
        .await
        .expect("trusted through AWS_CA_BUNDLE");

    std::env::set_var("AWS_CA_BUNDLE", certs.join("leaf.key"));
    let bad = get_item(&env, &endpoint)
        .await
        .expect_err("a key is no bundle");
    assert!(bad.contains("AWS_CA_BUNDLE"), "{bad}");
    let _ = std::fs::remove_dir_all(&certs);
}
