//! Page prefetching: a list resolver looks ahead at the fields the query asks of its nodes and
//! loads each kind of related row for the whole page in one statement. Unlike a DataLoader's
//! timing window, this gives a page a fixed number of statements however slowly its items
//! resolve.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Lookahead};

use super::context::ContextExt;
use crate::{
    error::ApiResult,
    graphql::context::Caller,
    service::{self, contacts::VisibleContact},
};

/// Related rows of one page of contacts, keyed by contact id (users by user id). A `None`
/// field was not asked for; the resolvers then fall back to the loaders.
#[derive(Default)]
pub struct Prefetch {
    /// Emails by contact.
    pub emails: Option<HashMap<i64, Vec<entity::contact_email::Model>>>,
    /// Phones by contact.
    pub phones: Option<HashMap<i64, Vec<entity::contact_phone::Model>>>,
    /// Addresses by contact.
    pub addresses: Option<HashMap<i64, Vec<entity::contact_address::Model>>>,
    /// Collaborator grants by contact.
    pub collaborators: Option<HashMap<i64, Vec<entity::contact_collaborator::Model>>>,
    /// Labels by contact.
    pub labels: Option<HashMap<i64, Vec<entity::label::Model>>>,
    /// The users the page mentions, as visible to the caller.
    pub users: Option<HashMap<i64, entity::user::Model>>,
}

fn group<M>(rows: Vec<M>, key: impl Fn(&M) -> i64) -> HashMap<i64, Vec<M>> {
    let mut map: HashMap<i64, Vec<M>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// The `Contact` selections of a connection field (under `edges.node` and `nodes`).
pub fn node_selections<'a>(ctx: &'a Context<'a>) -> [Lookahead<'a>; 2] {
    let look = ctx.look_ahead();
    [look.field("edges").field("node"), look.field("nodes")]
}

/// Loads what `nodes` asks of `contacts`, one statement for each kind of row.
pub async fn contacts(
    ctx: &Context<'_>,
    nodes: &[Lookahead<'_>],
    contacts: &[VisibleContact],
) -> ApiResult<Arc<Prefetch>> {
    let Caller { db, actor } = ctx.caller()?;
    let asks = |name: &str| nodes.iter().any(|n| n.field(name).exists());
    let asks_in = |outer: &str, inner: &[&str]| {
        nodes
            .iter()
            .any(|n| inner.iter().any(|i| n.field(outer).field(i).exists()))
    };
    let mut prefetch = Prefetch::default();
    if contacts.is_empty() {
        return Ok(Arc::new(prefetch));
    }
    let org = actor.org_id;
    let ids: Vec<i64> = contacts.iter().map(|c| c.contact.id).collect();
    if asks("emails") {
        let rows = service::contacts::emails_of(db, org, &ids).await?;
        prefetch.emails = Some(group(rows, |r| r.contact_id));
    }
    if asks("phones") {
        let rows = service::contacts::phones_of(db, org, &ids).await?;
        prefetch.phones = Some(group(rows, |r| r.contact_id));
    }
    if asks("addresses") {
        let rows = service::contacts::addresses_of(db, org, &ids).await?;
        prefetch.addresses = Some(group(rows, |r| r.contact_id));
    }
    if asks("labels") {
        prefetch.labels = Some(service::contacts::labels_of(db, org, &ids).await?);
    }
    let wants_collaborator_users = asks_in("collaborators", &["user", "grantedBy"]);
    if asks("collaborators") && actor.is_staff() {
        let rows = service::collaborators::of_contacts(db, org, &ids).await?;
        prefetch.collaborators = Some(group(rows, |r| r.contact_id));
    }
    if asks("consultant") || asks("createdBy") || wants_collaborator_users {
        let mut user_ids: Vec<i64> = contacts
            .iter()
            .flat_map(|c| [c.contact.consultant_id, Some(c.contact.created_by)])
            .flatten()
            .collect();
        if let Some(grants) = &prefetch.collaborators {
            user_ids.extend(
                grants
                    .values()
                    .flatten()
                    .flat_map(|g| [g.user_id, g.granted_by]),
            );
        }
        user_ids.sort_unstable();
        user_ids.dedup();
        prefetch.users = Some(service::users::get_many(db, actor, &user_ids).await?);
    }
    Ok(Arc::new(prefetch))
}
