//! The sign-in mutations: signing in and out, refreshing, passwords.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::{Caller, ContextExt, request},
        sessions::types::{PasswordToken, Session},
        users::User,
    },
    ids::{self, Kind},
    service::{
        self,
        sessions::{Client, DEFAULT_PASSWORD_TOKEN_TTL},
    },
};

/// Signing in and out, and setting passwords.
#[derive(Default)]
pub struct SessionsMutation;

/// Where the request came from: sign-in is throttled per client address, so it runs only where
/// the transport knows it (`POST /graphql`).
fn client<'a>(ctx: &'a Context<'_>) -> Result<Client<'a>, ApiError> {
    let info = request(ctx)?
        .client()
        .ok_or_else(|| ApiError::forbidden("sign in with POST /graphql, not over a WebSocket"))?;
    Ok(Client {
        ip: info.ip,
        user_agent: info.user_agent.as_deref(),
        local: info.local,
    })
}

#[Object]
impl SessionsMutation {
    /// Signs in with an email and password: a short-lived access token and a refresh token.
    /// Wrong credentials of any kind get one `UNAUTHENTICATED` answer; repeated failures for an
    /// account or from an address get `RATE_LIMITED` (`extensions.retryAfter`, seconds).
    async fn sign_in(&self, ctx: &Context<'_>, email: String, password: String) -> Result<Session> {
        let app = ctx.app()?;
        let client = client(ctx)?;
        let issued =
            service::sessions::sign_in(&app.db, &app.sign_in, client, &email, &password).await?;
        // The answer's `user` is read as the user who just signed in.
        request(ctx)?.sign_in(ctx, issued.actor.clone());
        Ok(Session(issued))
    }

    /// Exchanges a refresh token for new tokens; the one given stops working. Using a refresh
    /// token a second time ends its session (someone else may hold a copy).
    async fn refresh_session(&self, ctx: &Context<'_>, refresh_token: String) -> Result<Session> {
        let app = ctx.app()?;
        client(ctx)?;
        let issued = service::sessions::refresh(&app.db, &app.sign_in, &refresh_token).await?;
        request(ctx)?.sign_in(ctx, issued.actor.clone());
        Ok(Session(issued))
    }

    /// Ends the session of a refresh token, with its access tokens (no access token needed).
    /// `false` when the token was unknown or its session had already ended.
    async fn sign_out(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let app = ctx.app()?;
        Ok(service::sessions::sign_out(&app.db, &refresh_token).await?)
    }

    /// Ends every session of the caller, on every device.
    async fn sign_out_everywhere(&self, ctx: &Context<'_>) -> Result<bool> {
        let Caller { db, actor } = ctx.caller()?;
        service::sessions::sign_out_everywhere(db, actor).await?;
        Ok(true)
    }

    /// Ends one of the caller's sessions (from `mySessions`); `false` when it had ended.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Session, &id)?;
        Ok(service::sessions::revoke_own(db, actor, id).await?)
    }

    /// Sets a user's password: owners and admins for their organization's users (only owners
    /// for owners); anyone for themselves while they have none (then `changePassword`). The
    /// user's sessions end.
    async fn set_user_password(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        password: String,
    ) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::User, &user_id)?;
        Ok(User(
            service::sessions::set_password(db, actor, id, &password).await?,
        ))
    }

    /// Changes the caller's password, given the current one; their other sessions end.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        old_password: String,
        new_password: String,
    ) -> Result<bool> {
        let Caller { db, actor } = ctx.caller()?;
        let app = ctx.app()?;
        let client = client(ctx)?;
        service::sessions::change_password(
            db,
            &app.sign_in,
            actor,
            client,
            &old_password,
            &new_password,
        )
        .await?;
        Ok(true)
    }

    /// A one-time set-password token for a user (owners and admins; valid 24 hours), to hand
    /// to them as a link: they choose a password with `setPasswordWithToken`.
    async fn create_password_token(&self, ctx: &Context<'_>, user_id: ID) -> Result<PasswordToken> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::User, &user_id)?;
        Ok(PasswordToken(
            service::sessions::create_password_token(db, actor, id, DEFAULT_PASSWORD_TOKEN_TTL)
                .await?,
        ))
    }

    /// Sets a password with a one-time token from `createPasswordToken` or
    /// `threadline password-token` (no access token needed); the user's sessions end. Then
    /// sign in.
    async fn set_password_with_token(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
    ) -> Result<bool> {
        let app = ctx.app()?;
        service::sessions::set_password_with_token(&app.db, &token, &password).await?;
        Ok(true)
    }
}
