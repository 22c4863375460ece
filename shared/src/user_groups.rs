//! User groups for embedded dashboards (seed 002): creating a group, and rotating its token.
//!
//! A group's token is shown once, by the call that issues it; the table keeps only its keyed
//! hash. Rotation finds the group by that hash and swaps it for a new one in one transaction,
//! so the old token stops working at once and of two rotations with one token only one wins.

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    error::{Error, Resource},
    ids,
    model::{Caller, Environment, UserGroup},
    store::{counters, user_groups as table},
    validate,
};

pub const MAX_NAME_CHARS: usize = 200;
/// Bounded so that the uniqueness item's sort key stays far below DynamoDB's 1 KB limit.
pub const MAX_PROVIDED_ID_CHARS: usize = 128;
const TOKEN_PREFIX: &str = "ugt_";
const TOKEN_RANDOM_CHARS: usize = 40;
/// The purpose tag of the keyed hash, so a token's hash never equals another secret's.
const HASH_PURPOSE: &str = "user-group-token";
/// The per-organization counter that numbers `team_id`s.
const TEAM_COUNTER: &str = "team";

/// A token in plain text; it lives only between its creation (or the request that presents
/// it) and the response. `Debug` never prints it.
pub struct Token(String);

impl Token {
    fn generate() -> Self {
        Token(format!("{TOKEN_PREFIX}{}", ids::random(TOKEN_RANDOM_CHARS)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `value` could be a token we issued; anything else is unknown without any I/O.
    fn well_formed(value: &str) -> bool {
        value.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
            rest.len() == TOKEN_RANDOM_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
    }

    fn hash(&self, app: &App) -> String {
        app.hasher.hash(HASH_PURPOSE, &self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The request as sent (after the wire module checked the JSON types), before validation.
#[derive(Debug, Default, Clone)]
pub struct UserGroupInput {
    pub name: Option<String>,
    pub provided_id: Option<String>,
    pub environment: Option<String>,
    pub current_token: Option<String>,
}

/// A validated request: create a group, or rotate the token of the group `current_token` names.
#[derive(Debug)]
pub enum UserGroupRequest {
    Create {
        name: String,
        provided_id: String,
        environment: Environment,
    },
    Rotate {
        current_token: Token,
        name: Option<String>,
        provided_id: Option<String>,
        environment: Option<Environment>,
    },
}

impl UserGroupRequest {
    pub fn validate(input: UserGroupInput) -> Result<Self, Error> {
        let name = input
            .name
            .map(|n| validate::label("name", &n, MAX_NAME_CHARS))
            .transpose()?;
        let provided_id = input
            .provided_id
            .map(|p| validate::label("provided_id", &p, MAX_PROVIDED_ID_CHARS))
            .transpose()?;
        let environment = input
            .environment
            .map(|e| {
                Environment::parse(&e)
                    .ok_or_else(|| Error::invalid("environment", "must be Customer or Testing"))
            })
            .transpose()?;
        // The seed sends `"current_token": ""` to create, so an empty token means "none".
        let current_token = input
            .current_token
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        Ok(match current_token {
            None => UserGroupRequest::Create {
                name: name.ok_or_else(|| Error::invalid("name", "is required"))?,
                provided_id: provided_id
                    .ok_or_else(|| Error::invalid("provided_id", "is required"))?,
                environment: environment.unwrap_or(Environment::Customer),
            },
            Some(token) => UserGroupRequest::Rotate {
                current_token: Token(token),
                name,
                provided_id,
                environment,
            },
        })
    }
}

/// A group with the token just issued for it.
#[derive(Debug)]
pub struct Issued {
    pub group: UserGroup,
    pub token: Token,
}

pub async fn create_or_rotate(
    app: &App,
    caller: &Caller,
    request: UserGroupRequest,
    now: DateTime<Utc>,
) -> Result<Issued, Error> {
    match request {
        UserGroupRequest::Create {
            name,
            provided_id,
            environment,
        } => create(app, caller, name, provided_id, environment, now).await,
        UserGroupRequest::Rotate {
            current_token,
            name,
            provided_id,
            environment,
        } => {
            rotate(
                app,
                caller,
                &current_token,
                name,
                provided_id,
                environment,
                now,
            )
            .await
        }
    }
}

async fn create(
    app: &App,
    caller: &Caller,
    name: String,
    provided_id: String,
    environment: Environment,
    now: DateTime<Utc>,
) -> Result<Issued, Error> {
    // Reserved before the uniqueness check, so a refused duplicate leaves a gap in team ids;
    // they are internal ids, and checking first would cost every create another read.
    let team_id = counters::reserve(&app.table, &caller.org_id, TEAM_COUNTER, 1).await?;
    let group = UserGroup {
        team_id,
        org_id: caller.org_id.clone(),
        name,
        provided_id,
        environment,
        created_at: now,
        updated_at: now,
    };
    let token = Token::generate();
    match table::create(&app.table, &group, &token.hash(app)).await? {
        table::Created::Yes => {}
        table::Created::ProvidedIdTaken => return Err(provided_id_taken(&group)),
    }
    tracing::info!(team_id, "user group created");
    Ok(Issued { group, token })
}

fn provided_id_taken(group: &UserGroup) -> Error {
    Error::Conflict {
        reason: "already_exists",
        message: format!(
            "A user group with provided_id '{}' already exists in the {} environment",
            group.provided_id,
            group.environment.as_str()
        ),
    }
}

async fn rotate(
    app: &App,
    caller: &Caller,
    current: &Token,
    name: Option<String>,
    provided_id: Option<String>,
    environment: Option<Environment>,
    now: DateTime<Utc>,
) -> Result<Issued, Error> {
    // The token's text never goes into the error: it is a secret.
    let unknown = || Error::not_found(Resource::UserGroup, "current_token");
    if !Token::well_formed(current.expose()) {
        return Err(unknown());
    }
    let old_hash = current.hash(app);
    // Another organization's token is as unknown as a made-up one: existence never leaks.
    let mut group = table::find_by_token(&app.table, &old_hash)
        .await?
        .filter(|g| g.org_id == caller.org_id)
        .ok_or_else(unknown)?;
    if provided_id
        .as_ref()
        .is_some_and(|p| *p != group.provided_id)
    {
        return Err(Error::invalid(
            "provided_id",
            "does not match the user group of current_token",
        ));
    }
    if environment.is_some_and(|e| e != group.environment) {
        return Err(Error::invalid(
            "environment",
            "does not match the user group of current_token",
        ));
    }
    if let Some(name) = name {
        group.name = name;
    }
    group.updated_at = now;
    let token = Token::generate();
    match table::rotate(&app.table, &group, &old_hash, &token.hash(app)).await? {
        table::Rotated::Yes => {}
        // Our read saw the token, but a concurrent rotation replaced it before our write.
        table::Rotated::TokenReplaced => {
            return Err(Error::Conflict {
                reason: "token_rotated",
                message: "current_token was rotated by a concurrent request".into(),
            })
        }
    }
    tracing::info!(team_id = group.team_id, "user group token rotated");
    Ok(Issued { group, token })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        name: Option<&str>,
        provided_id: Option<&str>,
        environment: Option<&str>,
        token: Option<&str>,
    ) -> UserGroupInput {
        UserGroupInput {
            name: name.map(Into::into),
            provided_id: provided_id.map(Into::into),
            environment: environment.map(Into::into),
            current_token: token.map(Into::into),
        }
    }

    fn invalid_field(result: Result<UserGroupRequest, Error>) -> String {
        match result {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn no_or_empty_token_creates_with_customer_by_default() {
        for token in [None, Some(""), Some("  ")] {
            match UserGroupRequest::validate(input(
                Some(" Example 1 "),
                Some("example_1"),
                None,
                token,
            ))
            .unwrap()
            {
                UserGroupRequest::Create {
                    name,
                    provided_id,
                    environment,
                } => {
                    assert_eq!(
                        (name.as_str(), provided_id.as_str(), environment),
                        ("Example 1", "example_1", Environment::Customer)
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn creating_needs_name_and_provided_id() {
        assert_eq!(
            invalid_field(UserGroupRequest::validate(input(
                None,
                Some("p"),
                None,
                Some("")
            ))),
            "name"
        );
        assert_eq!(
            invalid_field(UserGroupRequest::validate(input(
                Some("n"),
                None,
                None,
                None
            ))),
            "provided_id"
        );
        assert_eq!(
            invalid_field(UserGroupRequest::validate(input(
                Some("   "),
                Some("p"),
                None,
                None
            ))),
            "name"
        );
    }

    #[test]
    fn fields_are_checked() {
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let cases = [
            (input(Some("a\r\nb"), Some("p"), None, None), "name"),
            (input(Some(&long), Some("p"), None, None), "name"),
            (
                input(Some("n"), Some("p\u{202E}q"), None, None),
                "provided_id",
            ),
            (input(Some("n"), Some("p\0"), None, None), "provided_id"),
            (
                input(
                    Some("n"),
                    Some(&"é".repeat(MAX_PROVIDED_ID_CHARS + 1)),
                    None,
                    None,
                ),
                "provided_id",
            ),
            (
                input(Some("n"), Some("p"), Some("Production"), None),
                "environment",
            ),
            (input(Some("n\t"), None, None, Some("ugt_x")), "name"),
        ];
        for (i, field) in cases {
            assert_eq!(invalid_field(UserGroupRequest::validate(i)), field);
        }
        assert!(UserGroupRequest::validate(input(
            Some("Équipe Zürich 東京"),
            Some("é_1"),
            Some("testing"),
            None
        ))
        .is_ok());
    }

    #[test]
    fn a_token_means_rotation_with_optional_fields() {
        match UserGroupRequest::validate(input(None, None, Some("Testing"), Some(" ugt_abc ")))
            .unwrap()
        {
            UserGroupRequest::Rotate {
                current_token,
                name,
                provided_id,
                environment,
            } => {
                assert_eq!(current_token.expose(), "ugt_abc");
                assert_eq!(
                    (name, provided_id, environment),
                    (None, None, Some(Environment::Testing))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tokens_are_well_formed_and_never_printed() {
        let token = Token::generate();
        assert!(Token::well_formed(token.expose()), "{}", token.expose());
        assert_eq!(token.expose().len(), 44);
        assert!(!format!("{token:?}").contains(token.expose()));
        let forty = "a".repeat(40);
        for bad in [
            "",
            "ugt_",
            "ugt_abc",
            &format!("UGT_{forty}"),
            &format!("ugt_{}ŝ", "a".repeat(39)),
            &format!("ugt_{forty}a"),
        ] {
            assert!(!Token::well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn environments_use_the_seeds_spelling() {
        assert_eq!(Environment::parse("customer"), Some(Environment::Customer));
        assert_eq!(
            Environment::parse("TESTING").map(Environment::as_str),
            Some("Testing")
        );
        assert_eq!(Environment::parse("prod"), None);
    }
}
