//! Users: staff (owners, admins, members) and customer users, and who may see and manage them.
//!
//! Dependencies run one way: contacts, grants and planning call down into this module (to check
//! a consultant, a grantee, a responsible user); it asks access, never contacts, whether a
//! contact is visible.

use std::collections::HashMap;

use entity::user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    IntoActiveModel, PaginatorTrait, QueryFilter, TransactionSession, TransactionTrait,
    sea_query::Expr,
};

use super::{IdWindow, access, now, sql::Sql, validate};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::{Actor, ActorKind, Role},
};

/// What kind of user to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewUserKind {
    /// A staff user with a role.
    Staff(Role),
    /// A customer user who is this contact.
    Customer(i64),
}

/// What `createUser` takes.
#[derive(Clone, Debug)]
pub struct CreateUser {
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Staff with a role, or customer of a contact.
    pub kind: NewUserKind,
}

/// What `updateUser` takes; absent fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct UpdateUser {
    /// New email.
    pub email: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New role (staff only; owners and admins only).
    pub role: Option<Role>,
}

/// Appends ` WHERE <user u is visible to actor>` (see [`access::push_user_visible`]).
fn push_visible(sql: &mut Sql, actor: &Actor) {
    sql.push(" WHERE ");
    access::push_user_visible(sql, actor, "u");
}

/// One page of the users the actor may see, in creation order: `(rows, has_next,
/// has_previous)`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    window: IdWindow,
) -> ApiResult<(Vec<user::Model>, bool, bool)> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT u.* FROM users u");
    push_visible(&mut sql, actor);
    window.push(&mut sql, "u.id");
    let rows = user::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(window.page(rows))
}

/// How many users the actor may see.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<i64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n FROM users u");
    push_visible(&mut sql, actor);
    sql.count(db).await
}

/// The users among `ids` that the actor may see.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, user::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT u.* FROM users u");
    push_visible(&mut sql, actor);
    sql.push(" AND u.id IN ").bind_list(ids.iter().copied());
    let rows = user::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// The user `id` if the actor may see it; `NOT_FOUND` otherwise.
#[tracing::instrument(skip_all, fields(user_id = id), err(level = "debug"))]
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<user::Model> {
    get_many(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or(ApiError::NotFound("User"))
}

/// Checks that `user_id` is an active staff user of the actor's organization (a consultant, a
/// collaborator): `NOT_FOUND` when there is no such user or the actor may not see it (a
/// customer user of a contact they cannot see looks missing), `BAD_USER_INPUT` on `field` when
/// it is a customer user or deactivated.
pub async fn require_active_staff<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    user_id: i64,
    field: &str,
) -> ApiResult<user::Model> {
    let user = get(db, actor, user_id).await?;
    if user.kind != "STAFF" {
        return Err(ApiError::bad_input(
            field,
            "must be a staff user, not a customer user",
        ));
    }
    if !user.active {
        return Err(ApiError::bad_input(
            field,
            format!("{} is deactivated", user.email),
        ));
    }
    Ok(user)
}

/// The answer when another user has `email` (checked first, and by the unique key when two
/// requests race).
fn email_in_use(email: &str) -> String {
    format!("a user with email {email} already exists")
}

async fn email_taken<C: ConnectionTrait>(
    db: &C,
    email: &str,
    except: Option<i64>,
) -> ApiResult<bool> {
    let mut query = user::Entity::find().filter(user::Column::Email.eq(email));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.count(db).await? > 0)
}

async fn active_owners<C: ConnectionTrait>(db: &C, org: i64) -> ApiResult<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::OrganizationId.eq(org))
        .filter(user::Column::Role.eq(Role::Owner.as_str()))
        .filter(user::Column::Active.eq(true))
        .count(db)
        .await?)
}

/// Inserts a user without access checks: for the organization's first owner (demo data and
/// administration commands), never for API callers.
#[tracing::instrument(skip_all, fields(org = org), err(level = "debug"))]
pub async fn insert_unchecked<C: ConnectionTrait>(
    db: &C,
    org: i64,
    input: &CreateUser,
) -> ApiResult<user::Model> {
    let email = validate::email("input.email", &input.email)?;
    let name = validate::name("input.name", &input.name)?;
    let (kind, role, contact_id) = match input.kind {
        NewUserKind::Staff(role) => ("STAFF", Some(role.as_str().to_owned()), None),
        NewUserKind::Customer(contact) => ("CUSTOMER", None, Some(contact)),
    };
    let at = now();
    user::ActiveModel {
        organization_id: Set(org),
        email: Set(email.clone()),
        name: Set(name),
        kind: Set(kind.to_owned()),
        role: Set(role),
        contact_id: Set(contact_id),
        active: Set(true),
        deactivated_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(ApiError::conflict_on_duplicate(email_in_use(&email)))
}

/// Creates a user; owners and admins only, and only owners may create owners. A customer user
/// is linked to a contact of the organization that has no customer user yet.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    input: CreateUser,
) -> ApiResult<user::Model> {
    actor.require_org_admin("create users")?;
    if input.kind == NewUserKind::Staff(Role::Owner) && actor.kind != ActorKind::Staff(Role::Owner)
    {
        return Err(ApiError::forbidden("only owners may create owners"));
    }
    let email = validate::email("input.email", &input.email)?;
    validate::name("input.name", &input.name)?;
    let txn = db.begin().await?;
    if email_taken(&txn, &email, None).await? {
        return Err(ApiError::conflict(email_in_use(&email)));
    }
    if let NewUserKind::Customer(contact_id) = input.kind {
        access::visible_contact(&txn, actor, contact_id).await?;
        let existing = user::Entity::find()
            .filter(user::Column::OrganizationId.eq(actor.org_id))
            .filter(user::Column::ContactId.eq(contact_id))
            .count(&txn)
            .await?;
        if existing > 0 {
            return Err(ApiError::conflict(
                "that contact already has a customer user",
            ));
        }
    }
    let user = insert_unchecked(&txn, actor.org_id, &input).await?;
    txn.commit().await?;
    Ok(user)
}

/// Updates a user. Anyone may change their own name and email; owners and admins may change
/// any user of the organization, except that only owners may touch owners or grant the owner
/// role, and the last active owner keeps the role.
#[tracing::instrument(skip_all, fields(user_id = id), err(level = "debug"))]
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    input: UpdateUser,
) -> ApiResult<user::Model> {
    let email = input
        .email
        .as_deref()
        .map(|e| validate::email("input.email", e))
        .transpose()?;
    let name = input
        .name
        .as_deref()
        .map(|n| validate::name("input.name", n))
        .transpose()?;
    let txn = db.begin().await?;
    let target = get(&txn, actor, id).await?;
    let is_self = target.id == actor.user_id;
    if !is_self || input.role.is_some() {
        actor.require_org_admin("change other users or roles")?;
    }
    let actor_is_owner = actor.kind == ActorKind::Staff(Role::Owner);
    let target_is_owner = target.role.as_deref() == Some(Role::Owner.as_str());
    if (target_is_owner || input.role == Some(Role::Owner)) && !actor_is_owner {
        return Err(ApiError::forbidden(
            "only owners may change owners or make someone an owner",
        ));
    }
    if input.role.is_some() && target.kind != "STAFF" {
        return Err(ApiError::bad_input(
            "input.role",
            "customer users have no role",
        ));
    }
    if target_is_owner
        && input.role.is_some_and(|r| r != Role::Owner)
        && target.active
        && active_owners(&txn, actor.org_id).await? <= 1
    {
        return Err(ApiError::conflict(
            "the organization's last active owner must stay an owner",
        ));
    }
    if let Some(email) = &email
        && email_taken(&txn, email, Some(id)).await?
    {
        return Err(ApiError::conflict(email_in_use(email)));
    }
    // The message a lost race has always had (the check above names the email).
    let on_duplicate = ApiError::conflict_on_duplicate("a user with that email already exists");
    let mut row = target.into_active_model();
    if let Some(email) = email {
        row.email = Set(email);
    }
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(role) = input.role {
        row.role = Set(Some(role.as_str().to_owned()));
    }
    row.updated_at = Set(now());
    let user = row.update(&txn).await.map_err(on_duplicate)?;
    changed(&txn, &user).await?;
    txn.commit().await?;
    Ok(user)
}

/// Deactivates (`active = false`) or reactivates a user; owners and admins only, owners only for
/// owners, and never the last active owner. A deactivated user's tokens stop working at once.
#[tracing::instrument(skip_all, fields(user_id = id, active = active), err(level = "debug"))]
pub async fn set_active<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    active: bool,
) -> ApiResult<user::Model> {
    let txn = db.begin().await?;
    let target = get(&txn, actor, id).await?;
    actor.require_org_admin(if active {
        "reactivate users"
    } else {
        "deactivate users"
    })?;
    let target_is_owner = target.role.as_deref() == Some(Role::Owner.as_str());
    if target_is_owner && actor.kind != ActorKind::Staff(Role::Owner) {
        return Err(ApiError::forbidden(
            "only owners may deactivate or reactivate owners",
        ));
    }
    if target.active == active {
        txn.commit().await?;
        return Ok(target);
    }
    if !active && target_is_owner && active_owners(&txn, actor.org_id).await? <= 1 {
        return Err(ApiError::conflict(
            "the organization's last active owner cannot be deactivated",
        ));
    }
    let at = now();
    let mut row = target.into_active_model();
    row.active = Set(active);
    row.deactivated_at = Set((!active).then_some(at));
    row.updated_at = Set(at);
    let user = row.update(&txn).await?;
    if !active {
        // Their sign-in sessions end too: reactivating a user does not revive them.
        entity::session::Entity::update_many()
            .col_expr(entity::session::Column::RevokedAt, Expr::value(at))
            .col_expr(
                entity::session::Column::RevokedReason,
                Expr::value("USER_DEACTIVATED"),
            )
            .filter(entity::session::Column::OrganizationId.eq(user.organization_id))
            .filter(entity::session::Column::UserId.eq(user.id))
            .filter(entity::session::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
    }
    changed(&txn, &user).await?;
    txn.commit().await?;
    Ok(user)
}

/// Tells every gateway that `user`'s account changed (at commit): their open sockets check
/// their rights again at once.
async fn changed<C: ConnectionTrait>(db: &C, user: &user::Model) -> ApiResult<()> {
    crate::bus::publish(
        db,
        &crate::bus::Signal::User {
            org: user.organization_id,
            user: user.id,
        },
    )
    .await
}
