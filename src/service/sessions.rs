//! Built-in sign-in: passwords, sign-in sessions with rotating refresh tokens, one-time
//! set-password tokens, and the throttling of failed attempts.
//!
//! - `signIn` checks the password (argon2id, see [`super::passwords`]) and opens a session: a
//!   short-lived access token (HS256, with the session in `sid`) and a random 256-bit refresh
//!   token, stored only as its SHA-256 hash.
//! - `refreshSession` rotates: the presented token is marked rotated and a new one issued, in
//!   one transaction whose conditional update lets only one of two concurrent uses win. Using
//!   a rotated token again (a copy held by someone else, or a lost race) revokes the whole
//!   session (OAuth 2.0 Security BCP, refresh-token rotation).
//! - A session's access tokens stop working as soon as it is revoked: the per-request check
//!   that already reads the user (deactivated users are locked out at once) joins the session.
//! - Failed sign-ins are counted per account (a hash of the email, known or not) and per client
//!   address (an IPv6 client by its /64) in `sign_in_failures`, in the database so that every
//!   gateway process shares the counts; past the limit within the window the answer is
//!   `RATE_LIMITED`, before any password is checked.
//!
//! Dependencies: this module calls `users` (who may see whom), `passwords`, `sql` and the bus
//! (so that sockets re-check a user whose sessions were revoked).

use std::{net::IpAddr, time::Duration};

use chrono::{DateTime, Utc};
use entity::{password_token, refresh_token, session, user, user_password};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
    sea_query::Expr,
};
use sha2::{Digest, Sha256};

use super::{now, passwords, sql::Sql, users};
use crate::{
    auth::{TokenKeys, TokenSubject, actor_of},
    error::{ApiError, ApiResult},
    service::actor::{Actor, ActorKind, Role},
};

/// The one answer to wrong sign-in credentials, whatever was wrong (unknown email, wrong
/// password, no password set, deactivated user).
pub const WRONG_CREDENTIALS: &str = "the email or password is not correct";
/// The answer to the documented demo password from a request that may not come from this
/// machine (whatever the email, so it tells nothing about the account).
pub const DEMO_PASSWORD_NOT_LOCAL: &str = "the demo password signs in only from this machine: \
     this request came through a proxy, or from a page or host name that is not loopback \
     (open the console on this machine at http://127.0.0.1 or http://localhost, on the port \
     the gateway printed at start-up)";
/// The one answer to a refresh token that does not hold (unknown, rotated, revoked, expired).
pub const INVALID_REFRESH_TOKEN: &str =
    "the refresh token is not valid (expired, revoked or already used): sign in again";
/// The one answer to a set-password token that does not hold (unknown, used, expired).
pub const INVALID_PASSWORD_TOKEN: &str =
    "the set-password token is not valid (unknown, already used or expired)";

/// The default lifetime of an access token: 15 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// The default time a session lives without a refresh: 30 days.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 86_400);
/// The default window failed sign-ins are counted in: 15 minutes.
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The default failures one account may have in the window.
pub const DEFAULT_MAX_FAILURES_PER_ACCOUNT: u64 = 10;
/// The default failures one client address may have in the window.
pub const DEFAULT_MAX_FAILURES_PER_IP: u64 = 100;
/// How long a set-password token works by default: 24 hours.
pub const DEFAULT_PASSWORD_TOKEN_TTL: Duration = Duration::from_secs(86_400);
/// The most sessions `mySessions` lists (newest first).
pub const MAX_LISTED_SESSIONS: u64 = 100;
/// The longest `User-Agent` kept with a session, in characters.
const MAX_USER_AGENT_CHARS: usize = 200;

/// Token keys and sign-in settings, from the configuration.
#[derive(Clone)]
pub struct SignInConfig {
    /// Signs access tokens.
    pub keys: TokenKeys,
    /// How long an access token lasts.
    pub access_ttl: Duration,
    /// How long a session lives without a refresh.
    pub refresh_ttl: Duration,
    /// The window failed sign-ins are counted in.
    pub failure_window: Duration,
    /// The most failures one account may have in the window.
    pub max_failures_per_account: u64,
    /// The most failures one client address may have in the window.
    pub max_failures_per_ip: u64,
}

impl SignInConfig {
    /// The defaults, with `keys`.
    pub fn new(keys: TokenKeys) -> Self {
        Self {
            keys,
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            failure_window: DEFAULT_FAILURE_WINDOW,
            max_failures_per_account: DEFAULT_MAX_FAILURES_PER_ACCOUNT,
            max_failures_per_ip: DEFAULT_MAX_FAILURES_PER_IP,
        }
    }
}

/// Where a sign-in comes from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Client<'a> {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// Its `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// Whether it comes from this machine (loopback peer, `Host` and `Origin`, no proxy
    /// headers): the documented demo password signs in only then.
    pub local: bool,
}

/// What `signIn` and `refreshSession` hand out.
#[derive(Debug)]
pub struct Issued {
    /// The access token (HS256 JWT).
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// The refresh token (shown once; only its hash is kept).
    pub refresh_token: String,
    /// When the session ends unless refreshed.
    pub refresh_expires_at: DateTime<Utc>,
    /// Who signed in.
    pub user: user::Model,
    /// The actor the user acts as, in this session.
    pub actor: Actor,
}

/// Why a session was revoked (stored in `sessions.revoked_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum RevokeReason {
    /// `signOut` (or `revokeSession`).
    SignedOut,
    /// `signOutEverywhere`.
    SignedOutEverywhere,
    /// A rotated refresh token was presented again.
    RefreshTokenReused,
    /// The password was changed or set.
    PasswordChanged,
    /// The user was deactivated.
    UserDeactivated,
}

/// Hex SHA-256 of a token: what is stored in its place.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random 256-bit token with a prefix saying what it is (`rt_` refresh, `spt_`
/// set-password), and its hash.
fn new_token(prefix: &str) -> (String, String) {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let token = format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(crate::db::random_bytes::<32>())
    );
    let hash = token_hash(&token);
    (token, hash)
}

fn after(at: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn before(at: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The user a verified access token stands for now: active, of the token's organization, and,
/// for a token of a sign-in session, with that session not revoked. One statement.
pub async fn token_user<C: ConnectionTrait>(
    db: &C,
    subject: &TokenSubject,
) -> ApiResult<Option<user::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT u.* FROM users u");
    if let Some(session_id) = subject.session_id {
        sql.push(" JOIN sessions s ON s.organization_id = u.organization_id AND s.user_id = u.id")
            .push(" AND s.id = ")
            .bind(session_id)
            .push(" AND s.revoked_at IS NULL");
    }
    sql.push(" WHERE u.id = ")
        .bind(subject.user_id)
        .push(" AND u.organization_id = ")
        .bind(subject.org_id)
        .push(" AND u.active = ")
        .bind(true);
    Ok(user::Model::find_by_statement(sql.build()).one(db).await?)
}

/// Signs a user in with their email and password: a new session. Wrong credentials of any kind
/// are [`ApiError::BadCredentials`] with [`WRONG_CREDENTIALS`], after the same password-hash
/// work; too many recent failures for the account or the client address are `RATE_LIMITED`
/// before any check.
///
/// The documented demo password ([`crate::demo::DEMO_PASSWORD`]) is refused before anything
/// else ([`DEMO_PASSWORD_NOT_LOCAL`]) unless the request is [`Client::local`]: any web page may
/// post `signIn` to a developer's loopback gateway (CORS admits every origin, for real
/// frontends), and no real frontend ever sends that password.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn sign_in<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &SignInConfig,
    client: Client<'_>,
    email: &str,
    password: &str,
) -> ApiResult<Issued> {
    if password == crate::demo::DEMO_PASSWORD && !client.local {
        tracing::warn!(
            client = ?client.ip,
            "refused a sign-in with the demo password from a request that may not come from \
             this machine (a proxy, or a page or host name that is not loopback)"
        );
        return Err(ApiError::BadCredentials(DEMO_PASSWORD_NOT_LOCAL));
    }
    let email = email.trim().to_lowercase();
    let counters = throttle::counters(config, &email, client.ip);
    throttle::check(db, config, &counters).await?;
    // Both statements run whether or not the email is known.
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    let (user_id, org_id) = user
        .as_ref()
        .map_or((-1, -1), |u| (u.id, u.organization_id));
    let hash = user_password::Entity::find_by_id(user_id)
        .filter(user_password::Column::OrganizationId.eq(org_id))
        .one(db)
        .await?
        .map(|p| p.password_hash);
    let matches = passwords::verify(password, hash).await?;
    let signed_in = user.filter(|u| matches && u.active).and_then(|u| {
        let actor = actor_of(&u)?;
        Some((u, actor))
    });
    let Some((user, actor)) = signed_in else {
        throttle::record_failure(db, config, &counters).await?;
        return Err(ApiError::BadCredentials(WRONG_CREDENTIALS));
    };
    throttle::clear_account(db, &counters).await?;
    let txn = db.begin().await?;
    prune_closed_sessions(&txn, config, &user).await?;
    let issued = open_session(&txn, config, user, actor, client.user_agent).await?;
    txn.commit().await?;
    Ok(issued)
}

/// Opens a session for `user` and issues its first tokens.
async fn open_session<C: ConnectionTrait>(
    db: &C,
    config: &SignInConfig,
    user: user::Model,
    mut actor: Actor,
    user_agent: Option<&str>,
) -> ApiResult<Issued> {
    let at = now();
    let user_agent = user_agent
        .map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT_CHARS)
                .collect::<String>()
        })
        .filter(|ua| !ua.trim().is_empty());
    let refresh_expires_at = after(at, config.refresh_ttl);
    let session = session::ActiveModel {
        organization_id: Set(user.organization_id),
        user_id: Set(user.id),
        user_agent: Set(user_agent),
        created_at: Set(at),
        last_used_at: Set(at),
        expires_at: Set(refresh_expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let refresh_token = insert_refresh_token(db, &session, at).await?;
    let (access_token, access_expires_at) =
        config
            .keys
            .issue_for_session(user.id, user.organization_id, session.id, config.access_ttl);
    actor.session_id = Some(session.id);
    Ok(Issued {
        access_token,
        access_expires_at,
        refresh_token,
        refresh_expires_at,
        user,
        actor,
    })
}

async fn insert_refresh_token<C: ConnectionTrait>(
    db: &C,
    session: &session::Model,
    at: DateTime<Utc>,
) -> ApiResult<String> {
    let (token, hash) = new_token("rt_");
    refresh_token::ActiveModel {
        organization_id: Set(session.organization_id),
        session_id: Set(session.id),
        token_hash: Set(hash),
        created_at: Set(at),
        rotated_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Removes `user`'s sessions that ended (revoked or expired) longer than a refresh lifetime ago,
/// with their refresh tokens: a user's rows stay bounded without a background job.
async fn prune_closed_sessions<C: ConnectionTrait>(
    db: &C,
    config: &SignInConfig,
    user: &user::Model,
) -> ApiResult<()> {
    let cutoff = before(now(), config.refresh_ttl);
    let closed = || {
        session::Entity::find()
            .select_only()
            .column(session::Column::Id)
            .filter(session::Column::OrganizationId.eq(user.organization_id))
            .filter(session::Column::UserId.eq(user.id))
            .filter(
                Condition::any()
                    .add(session::Column::ExpiresAt.lt(cutoff))
                    .add(session::Column::RevokedAt.lt(cutoff)),
            )
    };
    let ids: Vec<i64> = closed().into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(());
    }
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::OrganizationId.eq(user.organization_id))
        .filter(refresh_token::Column::SessionId.is_in(ids.clone()))
        .exec(db)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::OrganizationId.eq(user.organization_id))
        .filter(session::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Exchanges a refresh token for a new access token and a new refresh token; the presented one
/// stops working. Presenting a token that was already exchanged revokes its whole session. A
/// deactivated user's session is refused.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn refresh<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &SignInConfig,
    presented: &str,
) -> ApiResult<Issued> {
    let invalid = || ApiError::BadCredentials(INVALID_REFRESH_TOKEN);
    let txn = db.begin().await?;
    let Some((token, session)) = find_refresh_token(&txn, presented).await? else {
        return Err(invalid());
    };
    let at = now();
    if session.revoked_at.is_some() || session.expires_at <= at {
        return Err(invalid());
    }
    // Exchanged before, or exchanged by a concurrent request just now (the conditional update
    // lets one use win): either way the token was used twice.
    let rotated = token.rotated_at.is_none()
        && refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RotatedAt, Expr::value(at))
            .filter(refresh_token::Column::OrganizationId.eq(token.organization_id))
            .filter(refresh_token::Column::Id.eq(token.id))
            .filter(refresh_token::Column::RotatedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
    if !rotated {
        revoke(&txn, &session, RevokeReason::RefreshTokenReused).await?;
        txn.commit().await?;
        tracing::warn!(
            session_id = session.id,
            user_id = session.user_id,
            "a rotated refresh token was used again: the session is revoked"
        );
        return Err(invalid());
    }
    let user = user::Entity::find_by_id(session.user_id)
        .filter(user::Column::OrganizationId.eq(session.organization_id))
        .one(&txn)
        .await?
        .filter(|u| u.active);
    let Some((user, mut actor)) = user.and_then(|u| actor_of(&u).map(|a| (u, a))) else {
        return Err(invalid());
    };
    let refresh_expires_at = after(at, config.refresh_ttl);
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(at))
        .col_expr(session::Column::ExpiresAt, Expr::value(refresh_expires_at))
        .filter(session::Column::OrganizationId.eq(session.organization_id))
        .filter(session::Column::Id.eq(session.id))
        .exec(&txn)
        .await?;
    // Rotated tokens older than a session's lifetime can no longer be told from unknown ones
    // usefully; keep the family's rows bounded.
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::OrganizationId.eq(session.organization_id))
        .filter(refresh_token::Column::SessionId.eq(session.id))
        .filter(refresh_token::Column::RotatedAt.lt(before(at, config.refresh_ttl)))
        .exec(&txn)
        .await?;
    let refresh_token = insert_refresh_token(&txn, &session, at).await?;
    txn.commit().await?;
    let (access_token, access_expires_at) =
        config
            .keys
            .issue_for_session(user.id, user.organization_id, session.id, config.access_ttl);
    actor.session_id = Some(session.id);
    Ok(Issued {
        access_token,
        access_expires_at,
        refresh_token,
        refresh_expires_at,
        user,
        actor,
    })
}

/// The refresh token row of `presented` and its session.
async fn find_refresh_token<C: ConnectionTrait>(
    db: &C,
    presented: &str,
) -> ApiResult<Option<(refresh_token::Model, session::Model)>> {
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(presented.trim())))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let session = session::Entity::find_by_id(token.session_id)
        .filter(session::Column::OrganizationId.eq(token.organization_id))
        .one(db)
        .await?;
    Ok(session.map(|s| (token, s)))
}

/// Marks `session` revoked (if it is not already) and tells the user's open sockets to check
/// their tokens again.
async fn revoke<C: ConnectionTrait>(
    db: &C,
    session: &session::Model,
    reason: RevokeReason,
) -> ApiResult<bool> {
    let revoked = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now()))
        .col_expr(
            session::Column::RevokedReason,
            Expr::value(<&str>::from(reason)),
        )
        .filter(session::Column::OrganizationId.eq(session.organization_id))
        .filter(session::Column::Id.eq(session.id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected
        > 0;
    if revoked {
        user_changed(db, session.organization_id, session.user_id).await?;
    }
    Ok(revoked)
}

/// Revokes every open session of a user, except `keep`; returns how many.
pub async fn revoke_all<C: ConnectionTrait>(
    db: &C,
    org: i64,
    user_id: i64,
    keep: Option<i64>,
    reason: RevokeReason,
) -> ApiResult<u64> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now()))
        .col_expr(
            session::Column::RevokedReason,
            Expr::value(<&str>::from(reason)),
        )
        .filter(session::Column::OrganizationId.eq(org))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(session::Column::Id.ne(keep));
    }
    let revoked = update.exec(db).await?.rows_affected;
    if revoked > 0 {
        user_changed(db, org, user_id).await?;
    }
    Ok(revoked)
}

async fn user_changed<C: ConnectionTrait>(db: &C, org: i64, user: i64) -> ApiResult<()> {
    crate::bus::publish(db, &crate::bus::Signal::User { org, user }).await
}

/// Ends the session of a refresh token (no access token needed: the refresh token is the
/// proof). `true` when an open session was ended, `false` when the token was unknown or its
/// session already ended.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn sign_out<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    presented: &str,
) -> ApiResult<bool> {
    let txn = db.begin().await?;
    let Some((_, session)) = find_refresh_token(&txn, presented).await? else {
        return Ok(false);
    };
    let revoked = revoke(&txn, &session, RevokeReason::SignedOut).await?;
    txn.commit().await?;
    Ok(revoked)
}

/// Ends every session of the caller (their access tokens from `signIn` stop working too).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn sign_out_everywhere<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
) -> ApiResult<u64> {
    let txn = db.begin().await?;
    let revoked = revoke_all(
        &txn,
        actor.org_id,
        actor.user_id,
        None,
        RevokeReason::SignedOutEverywhere,
    )
    .await?;
    txn.commit().await?;
    Ok(revoked)
}

/// Ends one of the caller's own sessions; `NOT_FOUND` for anyone else's.
#[tracing::instrument(skip_all, fields(session_id = id), err(level = "debug"))]
pub async fn revoke_own<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<bool> {
    let txn = db.begin().await?;
    let session = session::Entity::find_by_id(id)
        .filter(session::Column::OrganizationId.eq(actor.org_id))
        .filter(session::Column::UserId.eq(actor.user_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Session"))?;
    let revoked = revoke(&txn, &session, RevokeReason::SignedOut).await?;
    txn.commit().await?;
    Ok(revoked)
}

/// The caller's open sessions (not revoked, not expired), most recently used first.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list_own<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<Vec<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::OrganizationId.eq(actor.org_id))
        .filter(session::Column::UserId.eq(actor.user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now()))
        .order_by_desc(session::Column::LastUsedAt)
        .order_by_desc(session::Column::Id)
        .limit(MAX_LISTED_SESSIONS)
        .all(db)
        .await?)
}

/// Stores `hash` as `user`'s password and ends their sessions (except `keep`).
async fn store_password<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
    hash: String,
    keep: Option<i64>,
) -> ApiResult<()> {
    let at = now();
    let existing = user_password::Entity::find_by_id(user.id)
        .filter(user_password::Column::OrganizationId.eq(user.organization_id))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut row: user_password::ActiveModel = row.into();
            row.password_hash = Set(hash);
            row.changed_at = Set(at);
            row.update(db).await?;
        }
        None => {
            user_password::ActiveModel {
                user_id: Set(user.id),
                organization_id: Set(user.organization_id),
                password_hash: Set(hash),
                changed_at: Set(at),
            }
            .insert(db)
            .await?;
        }
    }
    revoke_all(
        db,
        user.organization_id,
        user.id,
        keep,
        RevokeReason::PasswordChanged,
    )
    .await?;
    Ok(())
}

/// Stores a password hash for a user who has none yet, without access checks: for the demo
/// organization's users, never for API callers.
pub async fn insert_password_hash<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
    hash: String,
) -> ApiResult<()> {
    user_password::ActiveModel {
        user_id: Set(user.id),
        organization_id: Set(user.organization_id),
        password_hash: Set(hash),
        changed_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Whether `user` has a password.
async fn has_password<C: ConnectionTrait>(db: &C, user: &user::Model) -> ApiResult<bool> {
    Ok(user_password::Entity::find_by_id(user.id)
        .filter(user_password::Column::OrganizationId.eq(user.organization_id))
        .one(db)
        .await?
        .is_some())
}

/// Checks that `actor` may set `target`'s password or hand them a set-password token: owners
/// and admins for the users of their organization (only owners for owners); anyone for
/// themselves while they have no password yet (afterwards `changePassword`, which asks for the
/// old one).
async fn may_set_password<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    target: &user::Model,
) -> ApiResult<()> {
    if target.id == actor.user_id {
        if has_password(db, target).await? {
            return Err(ApiError::forbidden(
                "you have a password already: change it with changePassword, which asks for the \
                 current one",
            ));
        }
        return Ok(());
    }
    actor.require_org_admin("set other users' passwords")?;
    let target_is_owner = target.role.as_deref() == Some(Role::Owner.as_str());
    if target_is_owner && actor.kind != ActorKind::Staff(Role::Owner) {
        return Err(ApiError::forbidden("only owners may set owners' passwords"));
    }
    Ok(())
}

/// Sets a user's password (see [`may_set_password`] for who may); the user's sessions end.
#[tracing::instrument(skip_all, fields(user_id = id), err(level = "debug"))]
pub async fn set_password<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    password: &str,
) -> ApiResult<user::Model> {
    passwords::validate("password", password)?;
    let target = users::get(db, actor, id).await?;
    may_set_password(db, actor, &target).await?;
    let hash = passwords::hash(password).await?;
    let txn = db.begin().await?;
    // Read again inside the transaction: the checks hold for the row being written.
    let target = users::get(&txn, actor, id).await?;
    may_set_password(&txn, actor, &target).await?;
    store_password(&txn, &target, hash, None).await?;
    txn.commit().await?;
    Ok(target)
}

/// Changes the caller's own password, given the current one; the caller's other sessions end
/// (the one making the change stays). A wrong current password counts as a failed sign-in of
/// the account, so a stolen access token cannot be used to guess it quickly.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn change_password<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &SignInConfig,
    actor: &Actor,
    client: Client<'_>,
    old: &str,
    new: &str,
) -> ApiResult<()> {
    passwords::validate("newPassword", new)?;
    let user = users::get(db, actor, actor.user_id).await?;
    let counters = throttle::counters(config, &user.email, client.ip);
    throttle::check(db, config, &counters).await?;
    let hash = user_password::Entity::find_by_id(user.id)
        .filter(user_password::Column::OrganizationId.eq(user.organization_id))
        .one(db)
        .await?
        .map(|p| p.password_hash);
    if !passwords::verify(old, hash).await? {
        throttle::record_failure(db, config, &counters).await?;
        return Err(ApiError::bad_input(
            "oldPassword",
            "the current password is not correct",
        ));
    }
    let hash = passwords::hash(new).await?;
    let txn = db.begin().await?;
    store_password(&txn, &user, hash, actor.session_id).await?;
    txn.commit().await?;
    Ok(())
}

/// A set-password token made for a user.
#[derive(Debug)]
pub struct PasswordToken {
    /// The token (shown once; only its hash is kept).
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whose password it sets.
    pub user: user::Model,
}

/// Makes a one-time set-password token for user `id`, valid for `ttl` (owners and admins for
/// their users; see [`may_set_password`]).
#[tracing::instrument(skip_all, fields(user_id = id), err(level = "debug"))]
pub async fn create_password_token<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    ttl: Duration,
) -> ApiResult<PasswordToken> {
    let txn = db.begin().await?;
    let target = users::get(&txn, actor, id).await?;
    may_set_password(&txn, actor, &target).await?;
    if !target.active {
        return Err(ApiError::bad_input(
            "userId",
            format!("{} is deactivated", target.email),
        ));
    }
    let made = insert_password_token(&txn, target, Some(actor.user_id), ttl).await?;
    txn.commit().await?;
    Ok(made)
}

/// Makes a one-time set-password token for the user with `email`, without an actor: for the
/// `threadline password-token` command run by whoever runs the server.
pub async fn create_password_token_unchecked<C: ConnectionTrait>(
    db: &C,
    email: &str,
    ttl: Duration,
) -> ApiResult<PasswordToken> {
    let email = email.trim().to_lowercase();
    let target = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    if !target.active {
        return Err(ApiError::bad_input(
            "user",
            format!("{email} is deactivated"),
        ));
    }
    insert_password_token(db, target, None, ttl).await
}

async fn insert_password_token<C: ConnectionTrait>(
    db: &C,
    user: user::Model,
    created_by: Option<i64>,
    ttl: Duration,
) -> ApiResult<PasswordToken> {
    let at = now();
    let expires_at = after(at, ttl);
    let (token, hash) = new_token("spt_");
    password_token::ActiveModel {
        organization_id: Set(user.organization_id),
        user_id: Set(user.id),
        token_hash: Set(hash),
        created_by: Set(created_by),
        created_at: Set(at),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(PasswordToken {
        token,
        expires_at,
        user,
    })
}

/// Sets a password with a one-time token (no access token needed): the token stops working,
/// and so do the user's other unused tokens and their sessions.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn set_password_with_token<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    presented: &str,
    password: &str,
) -> ApiResult<user::Model> {
    passwords::validate("password", password)?;
    let hash_of = token_hash(presented.trim());
    let usable = || {
        password_token::Entity::find()
            .filter(password_token::Column::TokenHash.eq(hash_of.as_str()))
            .filter(password_token::Column::UsedAt.is_null())
            .filter(password_token::Column::ExpiresAt.gt(now()))
    };
    // Checked before hashing, so that unknown tokens cost no hashing work.
    if usable().one(db).await?.is_none() {
        return Err(ApiError::BadCredentials(INVALID_PASSWORD_TOKEN));
    }
    let hash = passwords::hash(password).await?;
    let txn = db.begin().await?;
    let Some(token) = usable().one(&txn).await? else {
        return Err(ApiError::BadCredentials(INVALID_PASSWORD_TOKEN));
    };
    // One use: of two concurrent uses only one updates the row.
    let used = password_token::Entity::update_many()
        .col_expr(password_token::Column::UsedAt, Expr::value(now()))
        .filter(password_token::Column::OrganizationId.eq(token.organization_id))
        .filter(password_token::Column::UserId.eq(token.user_id))
        .filter(password_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let user = user::Entity::find_by_id(token.user_id)
        .filter(user::Column::OrganizationId.eq(token.organization_id))
        .one(&txn)
        .await?
        .filter(|u| u.active);
    let (Some(user), true) = (user, used.rows_affected > 0) else {
        return Err(ApiError::BadCredentials(INVALID_PASSWORD_TOKEN));
    };
    store_password(&txn, &user, hash, None).await?;
    txn.commit().await?;
    Ok(user)
}

/// Failed-attempt counters in `sign_in_failures`, shared by every gateway process: a fixed
/// window per key that starts at its first failure; past `limit` failures within the window,
/// attempts are refused until it ends.
mod throttle {
    use std::net::IpAddr;

    use sea_orm::{ConnectionTrait, FromQueryResult};

    use super::{SignInConfig, Sql, token_hash};
    use crate::error::{ApiError, ApiResult};

    /// One counter: its key (a hash, so emails and addresses are not stored) and limit.
    pub struct Counter {
        key: String,
        limit: u64,
        account: bool,
    }

    /// The counters of an attempt: the account's (the email, known or not) and the client
    /// address's (an IPv6 client by its /64, which one host usually has whole).
    pub fn counters(config: &SignInConfig, email: &str, ip: Option<IpAddr>) -> Vec<Counter> {
        let mut counters = vec![Counter {
            key: token_hash(&format!("account:{email}")),
            limit: config.max_failures_per_account,
            account: true,
        }];
        if let Some(ip) = ip {
            let address = match ip.to_canonical() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let segments = v6.segments();
                    format!(
                        "{:x}:{:x}:{:x}:{:x}::/64",
                        segments[0], segments[1], segments[2], segments[3]
                    )
                }
            };
            counters.push(Counter {
                key: token_hash(&format!("ip:{address}")),
                limit: config.max_failures_per_ip,
                account: false,
            });
        }
        counters
    }

    fn unix_now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn window_secs(config: &SignInConfig) -> i64 {
        i64::try_from(config.failure_window.as_secs()).unwrap_or(i64::MAX)
    }

    #[derive(FromQueryResult)]
    struct Row {
        window_start: i64,
        failures: i64,
        key: String,
    }

    /// `RATE_LIMITED` when a counter is at its limit within its window.
    pub async fn check<C: ConnectionTrait>(
        db: &C,
        config: &SignInConfig,
        counters: &[Counter],
    ) -> ApiResult<()> {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push("SELECT key, window_start, failures FROM sign_in_failures WHERE key IN ")
            .bind_list(counters.iter().map(|c| c.key.clone()));
        let rows = Row::find_by_statement(sql.build()).all(db).await?;
        let now = unix_now();
        let window = window_secs(config);
        let wait = rows
            .iter()
            .filter_map(|row| {
                let counter = counters.iter().find(|c| c.key == row.key)?;
                let ends = row.window_start.saturating_add(window);
                let limited = u64::try_from(row.failures).unwrap_or(0) >= counter.limit;
                (limited && ends > now).then_some(ends - now)
            })
            .max();
        match wait {
            Some(wait) => Err(ApiError::RateLimited {
                message: format!(
                    "too many failed sign-in attempts: try again in {} seconds",
                    wait
                ),
                retry_after_secs: u64::try_from(wait).unwrap_or(0),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failure on every counter (a window that ended starts again at one), and drops
    /// the rows of windows that ended.
    pub async fn record_failure<C: ConnectionTrait>(
        db: &C,
        config: &SignInConfig,
        counters: &[Counter],
    ) -> ApiResult<()> {
        let now = unix_now();
        let ended = now.saturating_sub(window_secs(config));
        for counter in counters {
            let mut sql = Sql::new(db.get_database_backend());
            sql.push("INSERT INTO sign_in_failures (key, window_start, failures) VALUES (")
                .bind(counter.key.clone())
                .push(", ")
                .bind(now)
                .push(", 1) ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN sign_in_failures.window_start <= ")
                .bind(ended)
                .push(" THEN 1 ELSE sign_in_failures.failures + 1 END, window_start = CASE WHEN sign_in_failures.window_start <= ")
                .bind(ended)
                .push(" THEN ")
                .bind(now)
                .push(" ELSE sign_in_failures.window_start END");
            db.execute_raw(sql.build()).await?;
        }
        let mut sql = Sql::new(db.get_database_backend());
        sql.push("DELETE FROM sign_in_failures WHERE window_start <= ")
            .bind(ended);
        db.execute_raw(sql.build()).await?;
        Ok(())
    }

    /// Forgets the account's failures after a successful sign-in (the address's stay: one
    /// good password must not reset a guessing run from the same address).
    pub async fn clear_account<C: ConnectionTrait>(db: &C, counters: &[Counter]) -> ApiResult<()> {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push("DELETE FROM sign_in_failures WHERE key IN ")
            .bind_list(counters.iter().filter(|c| c.account).map(|c| c.key.clone()));
        db.execute_raw(sql.build()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let (a, hash_a) = new_token("rt_");
        let (b, _) = new_token("rt_");
        assert_ne!(a, b);
        assert!(a.starts_with("rt_") && a.len() == 3 + 43, "{a}");
        assert_eq!(hash_a, token_hash(&a));
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a[3..]));
    }
}
