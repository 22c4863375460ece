//! `inflowctl` run as an operator runs it: the built binary, against the local emulator
//! (`AWS_ENDPOINT_URL`, set by `make test`), each test on its own table, queues and secret.
//! - `--stack` finds everything from a CloudFormation stack's outputs (a stack created in the
//!   emulator), with no TABLE_NAME & co. in the environment;
//! - against a real account a missing name is refused, never replaced by a local default;
//! - SSO and credential_process profiles sign requests (aws-config's features for inflowctl);
//! - `key list`, `org list`, `org get`, `webhook list` / `webhook remove`, `--format table`,
//!   `completions`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use inflow::bootstrap::{self, Bootstrapped, Names};
use serde_json::Value;

const NAME_VARS: &[&str] = &[
    "TABLE_NAME",
    "APP_SECRET_ID",
    "WEBHOOK_QUEUE_URL",
    "EMAIL_QUEUE_URL",
    "RELAY_DLQ_URL",
    "WEBHOOK_DLQ_URL",
    "EMAIL_DLQ_URL",
    "API_URL",
    "INFLOW_STACK",
];

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: run the integration tests with `make test`, which starts the emulator",
    )
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", inflow::ids::random(10).to_lowercase())
}

/// The binary with none of the names in its environment (each test says where they come from),
/// and no profile of the machine's user.
fn ctl(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inflowctl"));
    for var in NAME_VARS {
        cmd.env_remove(var);
    }
    cmd.env_remove("AWS_PROFILE")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"));
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run inflowctl")
}

/// The JSON a successful run printed.
fn ok_json(out: Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inflowctl failed: {stderr}\n{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "inflowctl succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_home() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("inflowctl-home-"));
    std::fs::create_dir_all(&dir).expect("create a home");
    dir
}

async fn sdk() -> aws_config::SdkConfig {
    endpoint();
    aws_config::load_from_env().await
}

async fn resources(sdk: &aws_config::SdkConfig) -> (Names, Bootstrapped) {
    let names = Names::with_prefix(&unique("ctl"));
    let made = bootstrap::ensure_all(sdk, &names)
        .await
        .expect("bootstrap the emulator");
    (names, made)
}

/// A stack in the emulator whose outputs name `made`, as template.yaml's Outputs do.
async fn stack_naming(sdk: &aws_config::SdkConfig, made: &Bootstrapped) -> String {
    let name = unique("ctl-stack-");
    let outputs = BTreeMap::from([
        ("TableName", made.table.clone()),
        ("AppSecretArn", made.secret_id.clone()),
        ("WebhookQueueUrl", made.webhook_queue_url.clone()),
        ("EmailQueueUrl", made.email_queue_url.clone()),
        ("RelayDLQUrl", made.relay_dlq_url.clone()),
        (
            "ApiUrl",
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod/".into(),
        ),
    ]);
    let outputs: serde_json::Map<String, Value> = outputs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::json!({ "Value": v })))
        .collect();
    let template = serde_json::json!({
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": format!("{name}-marker")}}},
        "Outputs": outputs,
    });
    aws_sdk_cloudformation::Client::new(sdk)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .expect("create the stack in the emulator");
    name
}

#[tokio::test]
async fn a_stack_names_everything_and_keys_and_orgs_are_listed() {
    let sdk = sdk().await;
    let (_, made) = resources(&sdk).await;
    let stack = stack_naming(&sdk, &made).await;
    let home = temp_home();

    // Where each name comes from.
    let config = ok_json(run(ctl(&home).args(["--stack", &stack, "config"])));
    assert_eq!(config["values"]["TABLE_NAME"]["value"], made.table.as_str());
    assert_eq!(
        config["values"]["TABLE_NAME"]["source"],
        serde_json::json!({"stack": "TableName"})
    );
    assert_eq!(
        config["values"]["API_URL"]["value"],
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"
    );

    // INFLOW_STACK works as --stack does; the organization lands in the stack's table.
    let slug = unique("org-");
    let created = ok_json(run(ctl(&home)
        .env("INFLOW_STACK", &stack)
        .args(["org", "create", "--name", "Listed", "--slug", &slug])));
    let org_id = created["organization"]["id"]
        .as_str()
        .expect("an org id")
        .to_owned();
    let admin_key = created["adminKey"]
        .as_str()
        .expect("an admin key")
        .to_owned();
    let admin_id = created["adminKeyId"].as_str().expect("its id").to_owned();

    let listed = ok_json(run(
        ctl(&home).args(["--stack", &stack, "key", "list", "--org", &org_id])
    ));
    let keys = listed["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2, "{listed}");
    let kinds: Vec<&str> = keys.iter().filter_map(|k| k["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"admin") && kinds.contains(&"user"),
        "{listed}"
    );
    assert!(keys.iter().all(|k| k["revoked"] == false));
    assert!(
        !listed.to_string().contains(&admin_key),
        "a listed key shows the key itself"
    );

    ok_json(run(ctl(&home).args([
        "--stack", &stack, "key", "revoke", "--org", &org_id, "--id", &admin_id,
    ])));
    let listed = ok_json(run(
        ctl(&home).args(["--stack", &stack, "key", "list", "--org", &org_id])
    ));
    let revoked = listed["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["id"] == admin_id.as_str()))
        .expect("the revoked key is listed");
    assert_eq!(revoked["revoked"], true);
    assert!(revoked["revokedAt"].is_string());

    // An unknown organization is an error, not an empty list.
    let err = failed(run(
        ctl(&home).args(["--stack", &stack, "key", "list", "--org", "org_nope"])
    ));
    assert!(err.contains("org_nope"), "{err}");

    // org list: every organization of this table (only this test's), as org get shows one.
    ok_json(run(ctl(&home).args([
        "--stack",
        &stack,
        "org",
        "create",
        "--name",
        "Second",
        "--slug",
        &format!("{slug}-2"),
    ])));
    let orgs = ok_json(run(ctl(&home).args(["--stack", &stack, "org", "list"])));
    let slugs: Vec<&str> = orgs["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .filter_map(|o| o["slug"].as_str())
        .collect();
    assert_eq!(slugs, [slug.clone(), format!("{slug}-2")], "{orgs}");
    assert!(
        !orgs.to_string().contains("sealed"),
        "org list shows a sealed secret: {orgs}"
    );

    // For people: a table with the fields as columns.
    let table = run(ctl(&home).args([
        "--stack", &stack, "--format", "table", "key", "list", "--org", &org_id,
    ]));
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    let header = text
        .lines()
        .find(|l| l.starts_with("id "))
        .unwrap_or_default();
    assert!(
        header.contains("kind") && header.contains("revoked"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("key_")).count(),
        2,
        "{text}"
    );

    // A stack that does not exist says so.
    let err = failed(run(ctl(&home).args([
        "--stack",
        "no-such-stack",
        "org",
        "list",
    ])));
    assert!(err.contains("no-such-stack"), "{err}");
}

/// `org get` shows one organization as `GET /v1/organization` does; `webhook list` shows the
/// endpoints as the API lists them (never a secret); `webhook remove` takes one away, and an
/// unknown one is an error, not a silent success (the leaked-secret runbook relies on both).
#[tokio::test]
async fn an_org_is_got_and_its_webhooks_listed_and_removed() {
    let sdk = sdk().await;
    let (_, made) = resources(&sdk).await;
    let stack = stack_naming(&sdk, &made).await;
    let home = temp_home();
    // The receivers are on loopback, as make dev's are: allowed only in this mode.
    let ctl_on = |args: &[&str]| {
        let mut cmd = ctl(&home);
        cmd.env("ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
            .args(["--stack", &stack])
            .args(args);
        cmd
    };

    let slug = unique("org-");
    let created = ok_json(run(&mut ctl_on(&[
        "org", "create", "--name", "Got", "--slug", &slug,
    ])));
    let org_id = created["organization"]["id"]
        .as_str()
        .expect("an org id")
        .to_owned();

    let got = ok_json(run(&mut ctl_on(&["org", "get", "--org", &org_id])));
    assert_eq!(got["id"], org_id.as_str(), "{got}");
    assert_eq!(got["slug"], slug.as_str(), "{got}");
    assert_eq!(got["name"], "Got", "{got}");
    assert!(got["createdAt"].is_string(), "{got}");
    assert!(!got.to_string().contains("sealed"), "{got}");
    let err = failed(run(&mut ctl_on(&["org", "get", "--org", "org_nope"])));
    assert!(err.contains("org_nope"), "{err}");

    // Nothing yet: an empty list, not an error.
    let listed = ok_json(run(&mut ctl_on(&["webhook", "list", "--org", &org_id])));
    assert_eq!(listed["endpoints"], serde_json::json!([]), "{listed}");

    let mut added = Vec::new();
    for (url, events) in [
        ("http://127.0.0.1:9/one", "flow.assigned"),
        ("http://127.0.0.1:9/two", "flow.assigned,flow.completed"),
    ] {
        let out = ok_json(run(&mut ctl_on(&[
            "webhook", "add", "--org", &org_id, "--url", url, "--events", events,
        ])));
        let secret = out["secret"].as_str().expect("its secret").to_owned();
        assert!(secret.starts_with("whsec_"), "{out}");
        added.push((out["id"].as_str().expect("its id").to_owned(), url, secret));
    }

    let listed = ok_json(run(&mut ctl_on(&["webhook", "list", "--org", &org_id])));
    assert_eq!(listed["organization"], org_id.as_str());
    let endpoints = listed["endpoints"].as_array().expect("endpoints");
    let mut seen: Vec<(&str, &str)> = endpoints
        .iter()
        .filter_map(|e| Some((e["id"].as_str()?, e["url"].as_str()?)))
        .collect();
    seen.sort_by_key(|(_, url)| *url);
    let expected: Vec<(&str, &str)> = added
        .iter()
        .map(|(id, url, _)| (id.as_str(), *url))
        .collect();
    assert_eq!(seen, expected, "{listed}");
    let two = endpoints
        .iter()
        .find(|e| e["id"] == added[1].0.as_str())
        .expect("the second endpoint");
    assert_eq!(
        two["events"],
        serde_json::json!(["flow.assigned", "flow.completed"]),
        "{listed}"
    );
    for (_, _, secret) in &added {
        assert!(
            !listed.to_string().contains(secret.as_str()),
            "webhook list shows a signing secret: {listed}"
        );
    }

    let removed = ok_json(run(&mut ctl_on(&[
        "webhook",
        "remove",
        "--org",
        &org_id,
        "--id",
        &added[0].0,
    ])));
    assert_eq!(removed["removed"], true, "{removed}");
    let listed = ok_json(run(&mut ctl_on(&["webhook", "list", "--org", &org_id])));
    let ids: Vec<&str> = listed["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids, [added[1].0.as_str()], "{listed}");

    // Removed already, and never there: both errors that name the id.
    for id in [added[0].0.as_str(), "whk_nope"] {
        let err = failed(run(&mut ctl_on(&[
            "webhook", "remove", "--org", &org_id, "--id", id,
        ])));
        assert!(err.contains(id), "{err}");
    }
}

#[tokio::test]
async fn a_real_account_never_gets_the_local_names() {
    let home = temp_home();
    // No endpoint: real AWS; an endpoint elsewhere is not this machine's emulator either.
    // Nothing is sent: the names are checked before any call.
    let real = |endpoint: Option<&str>| {
        let mut cmd = ctl(&home);
        cmd.env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "example")
            .env("AWS_REGION", "us-east-1");
        if let Some(url) = endpoint {
            cmd.env("AWS_ENDPOINT_URL", url);
        }
        cmd
    };
    for endpoint in [None, Some("https://dynamodb.example.invalid")] {
        for args in [
            &["org", "list"][..],
            &["bootstrap"],
            &["key", "list", "--org", "org_x"],
        ] {
            let err = failed(run(real(endpoint).args(args)));
            assert!(err.contains("TABLE_NAME is not set"), "{args:?}: {err}");
            assert!(err.contains("--stack"), "{err}");
            assert!(err.contains("'inflow'"), "{err}");
        }
    }
    // The same against the emulator on this machine uses make dev's names.
    let config = ok_json(run(ctl(&home).arg("config")));
    assert_eq!(config["local"], true);
    assert_eq!(config["values"]["TABLE_NAME"]["value"], "inflow");
    assert_eq!(config["values"]["TABLE_NAME"]["source"], "localDefault");
}

/// Credentials from a credential_process profile: the process runs and its keys sign.
#[tokio::test]
async fn a_credential_process_profile_signs() {
    let sdk = sdk().await;
    let (_, made) = resources(&sdk).await;
    let home = temp_home();
    let marker = home.join("process-ran");
    let script = home.join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "touch '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"process-secret\"}}'\n",
            marker.display()
        ),
    )
    .expect("write the script");
    std::fs::write(
        home.join("aws-config"),
        format!(
            "[profile proc]\nregion = us-east-1\ncredential_process = /bin/sh {}\n",
            script.display()
        ),
    )
    .expect("write the config");
    let out = run(ctl(&home)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("TABLE_NAME", &made.table)
        .env("APP_SECRET_ID", &made.secret_id)
        .args(["--profile", "proc", "org", "list"]));
    let listed = ok_json(out);
    assert_eq!(listed["organizations"], serde_json::json!([]));
    assert!(marker.exists(), "the credential process did not run");
}

/// An IAM Identity Center (SSO) profile: the cached token is exchanged for role credentials at
/// the SSO portal (a stand-in on loopback, AWS_ENDPOINT_URL_SSO), which then sign the calls.
#[tokio::test]
async fn an_sso_profile_signs() {
    use sha1::{Digest, Sha1};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let sdk = sdk().await;
    let (_, made) = resources(&sdk).await;
    let home = temp_home();
    let start_url = "https://inflow-test.awsapps.com/start";
    std::fs::write(
        home.join("aws-config"),
        format!(
            "[profile ops]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = InflowOperator\nregion = us-east-1\n"
        ),
    )
    .expect("write the config");
    let cache = home.join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).expect("the SSO cache");
    let file = format!("{}.json", hex::encode(Sha1::digest(start_url.as_bytes())));
    std::fs::write(
        cache.join(file),
        r#"{"accessToken": "sso-access-token", "expiresAt": "2099-01-01T00:00:00Z", "region": "us-east-1", "startUrl": "https://inflow-test.awsapps.com/start"}"#,
    )
    .expect("write the token");

    // The portal's GetRoleCredentials: answers once, and says what it was asked.
    let portal = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = portal.local_addr().expect("addr").port();
    let asked = tokio::spawn(async move {
        let (mut socket, _) = portal.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"roleCredentials": {"accessKeyId": "AKIDSSO", "secretAccessKey": "sso-secret", "sessionToken": "sso-session", "expiration": 4102444800000}}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&request).to_lowercase()
    });

    let mut cmd = ctl(&home);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ENDPOINT_URL_SSO", format!("http://127.0.0.1:{port}"))
        .env("TABLE_NAME", &made.table)
        .env("APP_SECRET_ID", &made.secret_id)
        .args(["--profile", "ops", "org", "list"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run inflowctl"))
        .await
        .expect("join");
    let listed = ok_json(out);
    assert_eq!(listed["organizations"], serde_json::json!([]));
    let request = asked.await.expect("the portal was asked");
    assert!(
        request.starts_with("get /federation/credentials"),
        "{request}"
    );
    assert!(request.contains("role_name=inflowoperator"), "{request}");
    assert!(
        request.contains("x-amz-sso_bearer_token: sso-access-token"),
        "{request}"
    );
}

#[test]
fn version_and_output_need_no_aws_configuration() {
    let home = temp_home();
    let out = run(ctl(&home).env_remove("AWS_ENDPOINT_URL").arg("--version"));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("inflowctl {}", env!("CARGO_PKG_VERSION"))
    );
    // --output takes what the AWS CLI's does (less yaml); --format is the same flag.
    for flag in ["--output", "--format"] {
        for value in ["json", "table", "text"] {
            let out = run(ctl(&home).args([flag, value, "completions", "bash"]));
            assert!(out.status.success(), "{flag} {value}: {}", failed(out));
        }
    }
}

#[test]
fn completions_need_no_aws_configuration() {
    let home = temp_home();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef inflowctl"),
        ("fish", "complete -c inflowctl"),
    ] {
        let out = run(ctl(&home)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_REGION")
            .args(["completions", shell]));
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script:.200}");
        // The subcommands and global flags are there to complete.
        for word in ["bootstrap", "webhook", "stack", "output", "table"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
}
