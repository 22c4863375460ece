//! The floors of `shared/src` (docs/architecture.md), checked on the source: the domain never
//! imports the wire layer, handlers never use the store, and AWS SDK types stay in the modules
//! that own each service.

use std::path::{Path, PathBuf};

/// Modules that translate between the outside and the domain: they may use `wire`.
const EDGE: &[&str] = &[
    "wire/",
    "handlers/",
    "http.rs",
    "relay.rs",
    "accept_page.rs",
    "views.rs",
];

/// Each AWS crate (the SDK's, and lambda_http's requests) and the only places that may name it.
const SDK_OWNERS: &[(&str, &[&str])] = &[
    ("aws_sdk_dynamodb", &["store/"]),
    // The queue port, and the operator's set-up that creates the queues.
    ("aws_sdk_sqs", &["queue.rs", "bootstrap.rs"]),
    // The app secret: read at init (app.rs builds the client, keys.rs reads it) and created by
    // the operator's set-up.
    (
        "aws_sdk_secretsmanager",
        &["app.rs", "keys.rs", "bootstrap.rs"],
    ),
    // The mail port.
    ("aws_sdk_sesv2", &["email.rs"]),
    // The SDK's runtime: its errors become ours in one place, its HTTP client is built in one.
    ("aws_smithy", &["error.rs", "tls.rs", "store/"]),
    // Configuration loading: the clients' builders.
    (
        "aws_config",
        &["app.rs", "queue.rs", "bootstrap.rs", "store/"],
    ),
    // API Gateway's requests and responses: the edge (the event check, the pipeline, the
    // handlers) and the functions' `main` (lib.rs); the domain sees what they read of them.
    (
        "lambda_http",
        &["gateway.rs", "http.rs", "handlers/", "lib.rs"],
    ),
];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every source file of the crate, by its path under `src/` (`store/keys.rs`), with its text.
fn crate_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&src, &mut paths);
    assert!(paths.len() > 20, "read {} files under {src:?}", paths.len());
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn under(name: &str, places: &[&str]) -> bool {
    places
        .iter()
        .any(|p| name == *p || (p.ends_with('/') && name.starts_with(p)))
}

/// Lines that name `word` as code (not in a comment).
fn naming(text: &str, word: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let code = l.split("//").next().unwrap_or_default();
            code.contains(word)
        })
        .map(|(n, _)| n + 1)
        .collect()
}

#[test]
fn the_domain_never_imports_wire() {
    let mut offenders = Vec::new();
    for (name, text) in crate_files() {
        if under(&name, EDGE) {
            continue;
        }
        for word in ["crate::wire", "super::wire", "wire::"] {
            for line in naming(&text, word) {
                offenders.push(format!("{name}:{line}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "wire used below the edge: {offenders:?}"
    );
}

/// Handlers translate and call the domain: what a request reads and writes is the domain's to
/// decide (and its round trips are counted there), so no handler names the store.
#[test]
fn handlers_call_the_domain_never_the_store() {
    let mut offenders = Vec::new();
    for (name, text) in crate_files() {
        if !under(&name, &["handlers/"]) {
            continue;
        }
        for word in ["crate::store", "store::", "store,"] {
            for line in naming(&text, word) {
                offenders.push(format!("{name}:{line}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the store used by a handler: {offenders:?}"
    );
}

#[test]
fn sdk_types_stay_with_their_owner() {
    let mut offenders = Vec::new();
    for (name, text) in crate_files() {
        for (sdk, owners) in SDK_OWNERS {
            if under(&name, owners) {
                continue;
            }
            for line in naming(&text, sdk) {
                offenders.push(format!("{name}:{line} names {sdk}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn the_checks_see_an_offence() {
    assert_eq!(
        naming(
            "use crate::wire::time;\n// crate::wire in prose",
            "crate::wire"
        ),
        [1]
    );
    assert!(under("store/keys.rs", &["store/"]));
    assert!(!under("storefront.rs", &["store/"]));
    assert!(!under("http.rs.bak", &["http.rs"]));
}
