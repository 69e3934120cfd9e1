//! What a resolver reads from its context: the app-wide dependencies attached once when the
//! schema is built ([`AppData`]), and the caller attached to each request ([`RequestCaller`]),
//! both through [`ContextExt`].

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use super::{batch::Dispatcher, loaders::Loaders};
use crate::{
    error::{ApiError, ApiResult},
    service::{actor::Actor, attachments::Storage},
};

/// What every request shares, attached once at schema build (see [`super::schema::build`]).
pub struct AppData {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Attachment storage.
    pub storage: Arc<Storage>,
    /// How often the bus's safety read runs (subscriptions wait for the bus, see `crate::bus`).
    pub poll: PollInterval,
    /// The process's bus hub: subscriptions register here for what wakes them.
    pub hub: Arc<crate::bus::Hub>,
    /// Which webhook URLs may be registered (the SSRF guard).
    pub webhook_guard: Arc<webhooks::ssrf::Guard>,
}

/// How often a live subscription (`timelineEvents`, `reminders`) looks for new rows.
#[derive(Clone, Copy, Debug)]
pub struct PollInterval(pub std::time::Duration);

/// The caller of one request, attached by the HTTP layer once it has authenticated it.
pub struct RequestCaller {
    /// The authenticated caller; `None` for an anonymous request.
    actor: Option<Actor>,
    /// Batching loaders, scoped to this caller.
    loaders: Option<Loaders>,
    /// Starts the loaders' batches.
    dispatcher: Option<Arc<Dispatcher>>,
}

impl RequestCaller {
    /// The request's caller (or anonymous), with loaders reading through `db` as them.
    pub fn new(db: &DatabaseConnection, actor: Option<Actor>) -> Self {
        let dispatcher = actor.as_ref().map(|_| Dispatcher::new());
        let loaders = actor
            .as_ref()
            .zip(dispatcher.as_ref())
            .map(|(a, d)| Loaders::new(d, db.clone(), a.clone()));
        Self {
            actor,
            loaders,
            dispatcher,
        }
    }

    /// What the request's execution must be driven by (see [`super::batch::Driven`]).
    pub fn dispatcher(&self) -> Option<Arc<Dispatcher>> {
        self.dispatcher.clone()
    }
}

/// The database and the authenticated caller, as every service call takes them.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The database pool.
    pub db: &'a DatabaseConnection,
    /// Who is asking.
    pub actor: &'a Actor,
}

/// Shortcuts for resolvers.
pub trait ContextExt {
    /// The database and the caller, or `UNAUTHENTICATED` for an anonymous request.
    fn caller(&self) -> ApiResult<Caller<'_>>;
    /// The caller's loaders, or `UNAUTHENTICATED`.
    fn loaders(&self) -> ApiResult<&Loaders>;
    /// The app-wide dependencies.
    fn app(&self) -> ApiResult<&AppData>;
}

impl ContextExt for Context<'_> {
    fn caller(&self) -> ApiResult<Caller<'_>> {
        let actor = request(self)?
            .actor
            .as_ref()
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Caller {
            db: &self.app()?.db,
            actor,
        })
    }

    fn loaders(&self) -> ApiResult<&Loaders> {
        request(self)?
            .loaders
            .as_ref()
            .ok_or(ApiError::Unauthenticated)
    }

    fn app(&self) -> ApiResult<&AppData> {
        self.data_opt::<AppData>()
            .ok_or_else(|| ApiError::Internal("app data missing from the schema".into()))
    }
}

/// The request's caller; a request the HTTP layer did not attach one to is anonymous.
fn request<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a RequestCaller> {
    ctx.data_opt::<RequestCaller>()
        .ok_or(ApiError::Unauthenticated)
}
