//! User groups for embedded dashboards (seed 002): creating a group, and rotating its token.
//!
//! A group's token is shown by the call that issues it; the table keeps its keyed hash. A retry
//! of that call (a client that lost the answer to a timeout or a crash) gets the same answer
//! instead of a 409 or a 404:
//! - a create repeated within a day ([`RETRY_WINDOW_SECS`]) with the same name, provided_id and
//!   environment answers the group and its token, which the group keeps sealed for that day
//!   (until a rotation);
//! - a rotation made under an `Idempotency-Key` derives its token from the request's mark
//!   ([`Mark`]), and leaves the old token's lookup as a marker naming that mark for a day, so a
//!   retry that takes over its key finds its own rotation and answers its token again (while it
//!   is still the group's). Without a key, the old token simply stops working.
//!
//! Rotation finds the group by the token's hash and swaps it for a new one in one transaction,
//! so the old token stops working at once and of two rotations with one token only one wins.

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    error::{Error, Resource},
    idempotency::Mark,
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
/// How long the answer that issued a token may be given again to a retry of that call.
pub const RETRY_WINDOW_SECS: i64 = 24 * 60 * 60;

/// A token in plain text; it lives only between its creation (or the request that presents
/// it) and the response. `Debug` never prints it.
pub struct Token(String);

impl Token {
    fn generate() -> Self {
        Token(format!("{TOKEN_PREFIX}{}", ids::random(TOKEN_RANDOM_CHARS)))
    }

    /// The token a rotation issues: derived from its request's mark under an Idempotency-Key,
    /// so that the request's retry can give it again; random otherwise.
    fn for_rotation(app: &App, mark: Option<&Mark>) -> Self {
        match mark {
            Some(mark) => Token(format!(
                "{TOKEN_PREFIX}{}",
                mark.secret_chars(&app.hasher, HASH_PURPOSE, TOKEN_RANDOM_CHARS)
            )),
            None => Token::generate(),
        }
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

/// `mark` is the request's, when it holds an Idempotency-Key.
pub async fn create_or_rotate(
    app: &App,
    caller: &Caller,
    request: UserGroupRequest,
    mark: Option<&Mark>,
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
            let change = Change {
                name,
                provided_id,
                environment,
            };
            rotate(app, caller, &current_token, change, mark, now).await
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
    let (hash, sealed) = (token.hash(app), app.sealer.seal(token.expose()));
    let issued = table::Issued {
        hash: &hash,
        sealed: &sealed,
        until: now.timestamp() + RETRY_WINDOW_SECS,
    };
    match table::create(&app.table, &group, &issued).await? {
        table::Created::Yes => {}
        table::Created::ProvidedIdTaken => return created_before(app, &group, now).await,
    }
    tracing::info!(team_id, "user group created");
    Ok(Issued { group, token })
}

/// The provided_id is taken: by this very create, repeated within its day (the same name), whose
/// answer is given again; else by another group (409).
async fn created_before(app: &App, asked: &UserGroup, now: DateTime<Utc>) -> Result<Issued, Error> {
    let found = table::by_provided_id(&app.table, asked, now.timestamp()).await?;
    match found {
        Some(table::Existing {
            group,
            created_token_sealed: Some(sealed),
        }) if group.name == asked.name => {
            tracing::info!(
                team_id = group.team_id,
                "user group create repeated: its answer again"
            );
            Ok(Issued {
                group,
                token: Token(app.sealer.open(&sealed)?),
            })
        }
        _ => Err(provided_id_taken(asked)),
    }
}

fn provided_id_taken(group: &UserGroup) -> Error {
    Error::Conflict {
        reason: crate::error::Conflict::AlreadyExists,
        message: format!(
            "A user group with provided_id '{}' already exists in the {} environment",
            group.provided_id,
            group.environment.as_str()
        ),
    }
}

/// What a rotation may change besides the token; provided_id and environment must match.
struct Change {
    name: Option<String>,
    provided_id: Option<String>,
    environment: Option<Environment>,
}

async fn rotate(
    app: &App,
    caller: &Caller,
    current: &Token,
    change: Change,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<Issued, Error> {
    let Change {
        name,
        provided_id,
        environment,
    } = change;
    // The token's text never goes into the error: it is a secret.
    let unknown = || Error::not_found(Resource::UserGroup, "current_token");
    if !Token::well_formed(current.expose()) {
        return Err(unknown());
    }
    let old_hash = current.hash(app);
    // Another organization's token is as unknown as a made-up one: existence never leaks.
    let found = table::find_by_token(&app.table, &old_hash, now.timestamp()).await?;
    let mut group = match found {
        Some(table::Lookup::Current(group)) if group.org_id == caller.org_id => group,
        // This very rotation, made by a run of this request that lost its answer.
        Some(table::Lookup::Rotated { group, by })
            if group.org_id == caller.org_id && mark.is_some_and(|m| m.as_str() == by) =>
        {
            return rotated_before(app, group, mark).await?.ok_or_else(unknown);
        }
        _ => return Err(unknown()),
    };
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
    let token = Token::for_rotation(app, mark);
    let marker = mark.map(|m| table::Marker {
        by: m.as_str(),
        until: now.timestamp() + RETRY_WINDOW_SECS,
    });
    match table::rotate(&app.table, &group, &old_hash, &token.hash(app), marker).await? {
        table::Rotated::Yes => {}
        // Our read saw the token, but a concurrent rotation replaced it before our write.
        table::Rotated::TokenReplaced => {
            return Err(Error::Conflict {
                reason: crate::error::Conflict::TokenRotated,
                message: "current_token was rotated by a concurrent request".into(),
            })
        }
    }
    tracing::info!(team_id = group.team_id, "user group token rotated");
    Ok(Issued { group, token })
}

/// A rotation's retry that found its own rotation done: its answer again, while the token it
/// issued is still the group's (a later rotation retired that one too).
async fn rotated_before(
    app: &App,
    group: UserGroup,
    mark: Option<&Mark>,
) -> Result<Option<Issued>, Error> {
    let token = Token::for_rotation(app, mark);
    let current = table::token_hash_of(&app.table, &group.org_id, group.team_id).await?;
    if current.as_deref() != Some(token.hash(app).as_str()) {
        return Ok(None);
    }
    tracing::info!(
        team_id = group.team_id,
        "user group rotation repeated: its answer again"
    );
    Ok(Some(Issued { group, token }))
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
