//! Users in GraphQL: the `User` type and its inputs.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiError,
    graphql::{
        contacts::Contact,
        context::{Caller, ContextExt},
    },
    ids::{self, Kind},
    service,
    service::actor::Role as ServiceRole,
};

/// A staff user's role in the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "ServiceRole")]
pub enum Role {
    /// Owns the organization: everything an admin may do, and managing other owners.
    Owner,
    /// Admin access to every contact and channel, and user management.
    Admin,
    /// Sees contacts through collaborator grants.
    Member,
}

/// Whether a user is staff or a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum UserKind {
    /// A staff user of the organization, with a role.
    Staff,
    /// A customer user, who is one of the organization's contacts.
    Customer,
}

/// A user of the organization: staff (with a role) or a customer user linked to one contact.
pub struct User(pub entity::user::Model);

#[Object]
impl User {
    /// The user's opaque global ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::User, self.0.id))
    }
    /// Login email (lower-cased).
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Staff or customer.
    async fn kind(&self) -> UserKind {
        if self.0.kind == "CUSTOMER" {
            UserKind::Customer
        } else {
            UserKind::Staff
        }
    }
    /// The staff role; null for customer users.
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<Role>> {
        if hides_staff_details(ctx, &self.0)? {
            return Ok(None);
        }
        Ok(self
            .0
            .role
            .as_deref()
            .and_then(ServiceRole::parse)
            .map(Role::from))
    }
    /// False once deactivated; a deactivated user's tokens no longer work.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// When the user was deactivated.
    async fn deactivated_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        if hides_staff_details(ctx, &self.0)? {
            return Ok(None);
        }
        Ok(self.0.deactivated_at)
    }
    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the user last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// For a customer user: the contact they are (if the caller may see it).
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        match self.0.contact_id {
            Some(id) => Contact::load(ctx, id).await,
            None => Ok(None),
        }
    }
    /// How many of the caller's notifications are unread (as `notifications` with
    /// `filter: { unread: true }` counts them). Only for the caller themself, as `me`: asked of
    /// any other user it is `FORBIDDEN`.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        if self.0.id != actor.user_id {
            return Err(ApiError::forbidden(
                "unreadNotificationCount is readable only for yourself (me)",
            )
            .into());
        }
        Ok(service::notifications::count(db, actor, Some(true)).await?)
    }
}

/// Whether `user`'s internal details (role, deactivation time) are hidden from the caller: a
/// customer user sees them only for themselves, not for their consultant.
pub(crate) fn hides_staff_details(ctx: &Context<'_>, user: &entity::user::Model) -> Result<bool> {
    let actor = ctx.caller()?.actor;
    Ok(!actor.is_staff() && user.id != actor.user_id)
}

impl User {
    /// The user `id` through the request's loader, if there is one and the caller may see it.
    pub async fn load(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<User>> {
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(ctx.loaders()?.users.load_one(id).await?.map(User))
    }
}

/// Extra fields of the users connection.
pub struct UserConnectionFields;

#[Object]
impl UserConnectionFields {
    /// How many users the caller may see (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::users::count(db, actor).await?)
    }
}

/// What `createUser` takes.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Login email, unique across the instance.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `STAFF` (the default) or `CUSTOMER`.
    #[graphql(default_with = "UserKind::Staff")]
    pub kind: UserKind,
    /// The staff role (default `MEMBER`); not for customer users.
    pub role: Option<Role>,
    /// For a customer user: the contact they are.
    pub contact_id: Option<ID>,
}

/// What `updateUser` takes; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// New login email.
    pub email: Option<String>,
    /// New display name.
    pub name: Option<String>,
    /// New role (owners and admins only; only owners grant or take `OWNER`).
    pub role: Option<Role>,
}
