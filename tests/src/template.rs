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
