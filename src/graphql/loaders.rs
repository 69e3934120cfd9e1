//! Batching loaders: each turns the per-row lookups of one page into one SQL statement, so a
//! page costs a fixed number of statements whatever its size.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;

use crate::{
    error::ApiError,
    service::{self, actor::Actor, contacts::VisibleContact},
};

/// Loads the rows that hang off contacts (emails, phones, addresses, grants), grouped by contact.
/// The contacts were already checked against the caller's access by the query that found them.
pub struct ByContact<M> {
    db: DatabaseConnection,
    org: i64,
    fetch: FetchFn<M>,
    contact_of: fn(&M) -> i64,
}

/// A service function that fetches the rows of several contacts in one statement.
pub type FetchFn<M> =
    for<'a> fn(&'a DatabaseConnection, i64, &'a [i64]) -> BoxFuture<'a, service::ApiResultVec<M>>;

fn by_contact<M: Clone + Send + Sync + 'static>(
    db: &DatabaseConnection,
    org: i64,
    fetch: FetchFn<M>,
    contact_of: fn(&M) -> i64,
) -> DataLoader<ByContact<M>> {
    DataLoader::new(
        ByContact {
            db: db.clone(),
            org,
            fetch,
            contact_of,
        },
        tokio::spawn,
    )
}

impl<M: Clone + Send + Sync + 'static> Loader<i64> for ByContact<M> {
    type Value = Vec<M>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<M>>, Self::Error> {
        let rows = (self.fetch)(&self.db, self.org, keys)
            .await
            .map_err(into_gql)?;
        let mut grouped: HashMap<i64, Vec<M>> = HashMap::new();
        for row in rows {
            grouped
                .entry((self.contact_of)(&row))
                .or_default()
                .push(row);
        }
        Ok(grouped)
    }
}

/// Loads users by id, as visible to the caller.
pub struct UserLoader {
    db: DatabaseConnection,
    actor: Arc<Actor>,
}

impl Loader<i64> for UserLoader {
    type Value = entity::user::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        service::users::get_many(&self.db, &self.actor, keys)
            .await
            .map_err(into_gql)
    }
}

/// Loads contacts by id, as visible to the caller.
pub struct ContactLoader {
    db: DatabaseConnection,
    actor: Arc<Actor>,
}

impl Loader<i64> for ContactLoader {
    type Value = VisibleContact;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        service::contacts::get_many(&self.db, &self.actor, keys)
            .await
            .map_err(into_gql)
    }
}

/// Keeps the service error as the source, so the error extension can still map its code.
fn into_gql(error: ApiError) -> async_graphql::Error {
    async_graphql::Error::new_with_source(error)
}

/// The loaders of one request.
pub struct Loaders {
    /// Emails by contact.
    pub emails: DataLoader<ByContact<entity::contact_email::Model>>,
    /// Phones by contact.
    pub phones: DataLoader<ByContact<entity::contact_phone::Model>>,
    /// Addresses by contact.
    pub addresses: DataLoader<ByContact<entity::contact_address::Model>>,
    /// Collaborator grants by contact.
    pub collaborators: DataLoader<ByContact<entity::contact_collaborator::Model>>,
    /// Users by id.
    pub users: DataLoader<UserLoader>,
    /// Contacts by id.
    pub contacts: DataLoader<ContactLoader>,
}

impl Loaders {
    /// Loaders for `actor`'s request.
    pub fn new(db: DatabaseConnection, actor: Actor) -> Self {
        let org = actor.org_id;
        let actor = Arc::new(actor);
        Self {
            emails: by_contact(
                &db,
                org,
                |db, org, ids| Box::pin(service::contacts::emails_of(db, org, ids)),
                |m: &entity::contact_email::Model| m.contact_id,
            ),
            phones: by_contact(
                &db,
                org,
                |db, org, ids| Box::pin(service::contacts::phones_of(db, org, ids)),
                |m: &entity::contact_phone::Model| m.contact_id,
            ),
            addresses: by_contact(
                &db,
                org,
                |db, org, ids| Box::pin(service::contacts::addresses_of(db, org, ids)),
                |m: &entity::contact_address::Model| m.contact_id,
            ),
            collaborators: by_contact(
                &db,
                org,
                |db, org, ids| Box::pin(service::collaborators::of_contacts(db, org, ids)),
                |m: &entity::contact_collaborator::Model| m.contact_id,
            ),
            users: DataLoader::new(
                UserLoader {
                    db: db.clone(),
                    actor: actor.clone(),
                },
                tokio::spawn,
            ),
            contacts: DataLoader::new(ContactLoader { db, actor }, tokio::spawn),
        }
    }
}
