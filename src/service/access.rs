//! The access model, written as SQL so that every query filters rows by the caller's grants in
//! the database (never by loading and then discarding).

use super::sql::Sql;
use crate::auth::{Actor, ActorKind};

/// A collaborator access level, ordered: `Read < Write < Admin`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLevel {
    /// View the contact, its shared notes, tasks and timeline.
    Read,
    /// Also edit and archive the contact, create and edit notes and tasks.
    Write,
    /// Also grant and revoke access.
    Admin,
}

impl AccessLevel {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// The SQL expression of the actor's access level to the contact `c` in a query built with
/// [`contacts_from`] (selected as `my_access`).
pub fn access_expr(actor: &Actor) -> &'static str {
    match actor.kind {
        ActorKind::Staff(_) if actor.is_org_admin() => "'ADMIN'",
        ActorKind::Staff(_) => "g.access",
        ActorKind::Customer { .. } => "'READ'",
    }
}

/// Appends `FROM contacts c ... WHERE <c is visible to actor>`:
///
/// - owners and admins: every contact of their organization, with `ADMIN`;
/// - members: contacts they hold a grant on (an inner join on `contact_collaborators`);
/// - customer users: their own contact, with `READ`.
pub fn contacts_from(sql: &mut Sql, actor: &Actor) {
    match actor.kind {
        ActorKind::Staff(_) if actor.is_org_admin() => {
            sql.push(" FROM contacts c WHERE c.organization_id = ")
                .bind(actor.org_id);
        }
        ActorKind::Staff(_) => {
            sql.push(
                " FROM contacts c JOIN contact_collaborators g \
                 ON g.contact_id = c.id AND g.organization_id = c.organization_id AND g.user_id = ",
            )
            .bind(actor.user_id)
            .push(" WHERE c.organization_id = ")
            .bind(actor.org_id);
        }
        ActorKind::Customer { contact_id } => {
            sql.push(" FROM contacts c WHERE c.organization_id = ")
                .bind(actor.org_id)
                .push(" AND c.id = ")
                .bind(contact_id);
        }
    }
}

/// Appends a condition that holds when contact `contact_column` is visible to `actor`, for
/// queries over rows that hang off a contact (users of kind customer, later notes and tasks).
pub fn contact_visible(sql: &mut Sql, actor: &Actor, contact_column: &str) {
    match actor.kind {
        ActorKind::Staff(_) if actor.is_org_admin() => {
            sql.push("1 = 1");
        }
        ActorKind::Staff(_) => {
            sql.push("EXISTS (SELECT 1 FROM contact_collaborators vg WHERE vg.organization_id = ")
                .bind(actor.org_id)
                .push(" AND vg.user_id = ")
                .bind(actor.user_id)
                .push(" AND vg.contact_id = ")
                .push(contact_column)
                .push(")");
        }
        ActorKind::Customer { contact_id } => {
            sql.push(contact_column).push(" = ").bind(contact_id);
        }
    }
}

/// Appends a condition that holds when channel `channel_column` is visible to `actor`: every
/// channel of the organization for owners and admins, granted ones for members, none for
/// customer users.
pub fn channel_visible(sql: &mut Sql, actor: &Actor, channel_column: &str) {
    match actor.kind {
        ActorKind::Staff(_) if actor.is_org_admin() => {
            sql.push("1 = 1");
        }
        ActorKind::Staff(_) => {
            sql.push(
                "EXISTS (SELECT 1 FROM channel_collaborators vcg WHERE vcg.organization_id = ",
            )
            .bind(actor.org_id)
            .push(" AND vcg.user_id = ")
            .bind(actor.user_id)
            .push(" AND vcg.channel_id = ")
            .push(channel_column)
            .push(")");
        }
        ActorKind::Customer { .. } => {
            sql.push("1 = 0");
        }
    }
}
