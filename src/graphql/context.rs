//! What a resolver reads from its context: the app-wide dependencies attached once when the
//! schema is built ([`AppData`]), and the caller attached to each request ([`RequestCaller`]),
//! both through [`ContextExt`].

use std::sync::{Arc, OnceLock};

use async_graphql::{Context, QueryPathSegment};
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
    /// Token keys and the sign-in settings (`signIn`, `refreshSession`).
    pub sign_in: Arc<crate::service::sessions::SignInConfig>,
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
    dispatcher: Arc<Dispatcher>,
    /// The pool, for the loaders of a user signed in by this request.
    db: DatabaseConnection,
    /// The user a `signIn` (or `refreshSession`) field of this request signed in: what that
    /// field's answer (`Session.user`) is read as, and only that field's.
    signed_in: OnceLock<SignedIn>,
    /// Where the request came from (HTTP requests; a WebSocket operation has none).
    client: Option<ClientInfo>,
}

/// Where a request came from, for sign-in throttling and the sessions list.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The peer's address (the TCP connection's).
    pub ip: Option<std::net::IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Whether the request comes from this machine: a loopback peer, `Host` and `Origin`, and
    /// no proxy headers (see [`crate::http::console::local`]). Only the documented demo
    /// password asks.
    pub local: bool,
}

/// A user signed in by one root field of a request.
struct SignedIn {
    /// The root field's response key (its alias, else its name).
    root: String,
    actor: Actor,
    loaders: Loaders,
}

impl RequestCaller {
    /// The request's caller (or anonymous), with loaders reading through `db` as them.
    pub fn new(db: &DatabaseConnection, actor: Option<Actor>) -> Self {
        let dispatcher = Dispatcher::new();
        let loaders = actor
            .as_ref()
            .map(|a| Loaders::new(&dispatcher, db.clone(), a.clone()));
        Self {
            actor,
            loaders,
            dispatcher,
            db: db.clone(),
            signed_in: OnceLock::new(),
            client: None,
        }
    }

    /// The same, for a request from `client`.
    pub fn with_client(mut self, client: ClientInfo) -> Self {
        self.client = Some(client);
        self
    }

    /// What the request's execution must be driven by (see [`super::batch::Driven`]).
    pub fn dispatcher(&self) -> Option<Arc<Dispatcher>> {
        Some(self.dispatcher.clone())
    }

    /// Where the request came from, when the transport knows.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.as_ref()
    }

    /// Reads the rest of the root field `ctx` is in (a `signIn` answer) as `actor`. One field
    /// per request may do so; another gets `false` and its answer is read as the request's
    /// own caller.
    pub fn sign_in(&self, ctx: &Context<'_>, actor: Actor) -> bool {
        let Some(root) = root_key(ctx) else {
            return false;
        };
        let loaders = Loaders::new(&self.dispatcher, self.db.clone(), actor.clone());
        self.signed_in
            .set(SignedIn {
                root: root.to_owned(),
                actor,
                loaders,
            })
            .is_ok()
    }

    /// The signed-in user of the root field `ctx` is in, if that field signed one in.
    fn signed_in_at(&self, ctx: &Context<'_>) -> Option<&SignedIn> {
        let signed_in = self.signed_in.get()?;
        (root_key(ctx)? == signed_in.root).then_some(signed_in)
    }
}

/// The response key of the root field `ctx` is under.
fn root_key<'a>(ctx: &'a Context<'_>) -> Option<&'a str> {
    let mut node = ctx.path_node.as_ref()?;
    while let Some(parent) = node.parent {
        node = parent;
    }
    match node.segment {
        QueryPathSegment::Name(name) => Some(name),
        QueryPathSegment::Index(_) => None,
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
        let request = request(self)?;
        let actor = match request.signed_in_at(self) {
            Some(signed_in) => &signed_in.actor,
            None => request.actor.as_ref().ok_or(ApiError::Unauthenticated)?,
        };
        Ok(Caller {
            db: &self.app()?.db,
            actor,
        })
    }

    fn loaders(&self) -> ApiResult<&Loaders> {
        let request = request(self)?;
        match request.signed_in_at(self) {
            Some(signed_in) => Ok(&signed_in.loaders),
            None => request.loaders.as_ref().ok_or(ApiError::Unauthenticated),
        }
    }

    fn app(&self) -> ApiResult<&AppData> {
        self.data_opt::<AppData>()
            .ok_or_else(|| ApiError::Internal("app data missing from the schema".into()))
    }
}

/// The request's caller; a request the HTTP layer did not attach one to is anonymous.
pub fn request<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a RequestCaller> {
    ctx.data_opt::<RequestCaller>()
        .ok_or(ApiError::Unauthenticated)
}
