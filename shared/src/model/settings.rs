//! A checked change to an organization's settings, as the store applies it.

/// One field of a partial update: left alone, cleared (back to the default), or set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// What a `PATCH` asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettingsChange {
    pub name: Option<String>,
    pub accept_url_template: Change<String>,
    pub invitation_ttl_secs: Change<i64>,
}

impl SettingsChange {
    pub fn is_empty(&self) -> bool {
        *self == SettingsChange::default()
    }
}
