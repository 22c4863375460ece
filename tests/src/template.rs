//! What tests and the bench read of template.yaml besides the relay's stream settings
//! ([`crate::stream::SourceSettings`]).

use serde_yaml::Value as Yaml;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

/// A parameter's default, as a number (what a deploy without overrides gets).
pub fn parameter(name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(TEMPLATE).ok()?;
    let doc: Yaml = serde_yaml::from_str(&text).ok()?;
    doc["Parameters"][name]["Default"].as_f64()
}

/// A function's timeout in seconds (its own, else the Globals'), by its logical id.
pub fn function_timeout(logical_id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(TEMPLATE).ok()?;
    let doc: Yaml = serde_yaml::from_str(&text).ok()?;
    doc["Resources"][logical_id]["Properties"]["Timeout"]
        .as_f64()
        .or_else(|| doc["Globals"]["Function"]["Timeout"].as_f64())
}

/// A resource of the template by its logical id (`Yaml::Null` when there is none); CloudFormation's
/// short tags (`!Ref`, `!GetAtt`) read as tagged values.
pub fn resource(logical_id: &str) -> Yaml {
    let text = std::fs::read_to_string(TEMPLATE).expect("template.yaml");
    let doc: Yaml = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    doc["Resources"][logical_id].clone()
}

/// What a `!Ref X` or `!GetAtt X.Attr` names: `X`.
pub fn named(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Tagged(tagged) => tagged
            .value
            .as_str()
            .map(|s| s.split('.').next().unwrap_or(s).to_owned()),
        _ => None,
    }
}
