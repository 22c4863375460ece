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
