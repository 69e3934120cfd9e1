//! The users mutations: creating, editing, deactivating users.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::{Caller, ContextExt},
        users::types::{CreateUserInput, UpdateUserInput, User, UserKind},
    },
    ids::{self, Kind},
    service::actor::Role,
    service::{
        self,
        users::{CreateUser, NewUserKind, UpdateUser},
    },
};

/// Creating and managing users.
#[derive(Default)]
pub struct UsersMutation;

#[Object]
impl UsersMutation {
    /// Creates a user (owners and admins). Staff users get a role (default `MEMBER`); customer
    /// users are linked to a contact.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        let kind = match (input.kind, input.role, input.contact_id) {
            (UserKind::Staff, role, None) => {
                NewUserKind::Staff(role.map_or(Role::Member, Role::from))
            }
            (UserKind::Staff, _, Some(_)) => {
                return Err(ApiError::bad_input(
                    "input.contactId",
                    "only customer users are linked to a contact",
                )
                .into());
            }
            (UserKind::Customer, Some(_), _) => {
                return Err(
                    ApiError::bad_input("input.role", "customer users have no role").into(),
                );
            }
            (UserKind::Customer, None, None) => {
                return Err(ApiError::bad_input(
                    "input.contactId",
                    "a customer user needs the contact they are",
                )
                .into());
            }
            (UserKind::Customer, None, Some(contact)) => {
                NewUserKind::Customer(ids::decode(Kind::Contact, &contact)?)
            }
        };
        let input = CreateUser {
            email: input.email,
            name: input.name,
            kind,
        };
        Ok(User(service::users::create(db, actor, input).await?))
    }

    /// Updates a user: anyone their own name and email; owners and admins anyone's, and roles.
    async fn update_user(&self, ctx: &Context<'_>, id: ID, input: UpdateUserInput) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::User, &id)?;
        let input = UpdateUser {
            email: input.email,
            name: input.name,
            role: input.role.map(Role::from),
        };
        Ok(User(service::users::update(db, actor, id, input).await?))
    }

    /// Deactivates a user (owners and admins): their tokens stop working at once.
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(
            service::users::set_active(db, actor, id, false).await?,
        ))
    }

    /// Reactivates a deactivated user (owners and admins).
    async fn reactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(service::users::set_active(db, actor, id, true).await?))
    }
}
