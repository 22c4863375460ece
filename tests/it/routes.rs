//! One list of endpoints: `inflow::handlers::all()` (each family's `Endpoint` entries) names
//! the same routes as template.yaml (what AWS and `make dev` serve; inflow_dev.check_routes
//! holds openapi.yaml to it), and each binary runs its own entry. The tests name endpoints by
//! those entries (`inflow::handlers::endpoints`), so they have no list of their own.

use std::collections::BTreeSet;

use serde_yaml::Value as Yaml;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

type Route = (String, String, String);

/// (binary, method, path) of every HttpApi event in template.yaml.
fn template_routes() -> BTreeSet<Route> {
    let text = std::fs::read_to_string(format!("{ROOT}/template.yaml")).expect("template.yaml");
    let template: Yaml = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    let mut routes = BTreeSet::new();
    for (id, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id:?} names no binary"));
        for event in events.values() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let field = |name: &str| {
                event["Properties"][name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id:?}: an HttpApi event without {name}"))
                    .to_owned()
            };
            routes.insert((
                binary.to_owned(),
                field("Method").to_uppercase(),
                field("Path"),
            ));
        }
    }
    routes
}

fn listed_routes() -> BTreeSet<Route> {
    inflow::handlers::all()
        .flat_map(|e| {
            e.routes
                .iter()
                .map(|(method, path)| (e.name.to_owned(), (*method).to_owned(), (*path).to_owned()))
        })
        .collect()
}

#[test]
fn the_list_and_the_template_name_the_same_routes() {
    let template = template_routes();
    let listed = listed_routes();
    assert!(!template.is_empty());
    let only_template: Vec<_> = template.difference(&listed).collect();
    let only_listed: Vec<_> = listed.difference(&template).collect();
    assert!(
        only_template.is_empty() && only_listed.is_empty(),
        "only in template.yaml: {only_template:?}\nonly in ENDPOINTS: {only_listed:?}"
    );
}

#[test]
fn each_binary_calls_the_handler_the_list_names() {
    let mut names = BTreeSet::new();
    for e in inflow::handlers::all() {
        assert!(names.insert(e.name), "{} is listed twice", e.name);
        let path = format!("{ROOT}/functions/src/bin/{}.rs", e.name);
        let source = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no {path}"));
        let call = format!(
            "inflow::http_function!(inflow::handlers::endpoints::{});",
            e.name.to_uppercase().replace('-', "_")
        );
        assert!(source.contains(&call), "{path} does not say {call}");
    }
}
