//! Who a service call runs as: the [`Actor`] (user, organization, staff role or customer
//! contact) that every query is scoped by. The HTTP layer authenticates a token into one
//! (`crate::auth`); the service layer decides what it may do.

use crate::error::{ApiError, ApiResult};

/// A staff user's role in the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Owns the organization: everything an admin may do, and managing other owners.
    Owner,
    /// Admin access to every contact and channel, and user management.
    Admin,
    /// Sees contacts through collaborator grants.
    Member,
}

impl Role {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// What kind of user an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    /// A staff user with a role.
    Staff(Role),
    /// A customer user who is the given contact.
    Customer {
        /// The contact row id.
        contact_id: i64,
    },
}

/// The authenticated caller: every service call is scoped by its organization and grants.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The user's row id.
    pub user_id: i64,
    /// The organization's row id.
    pub org_id: i64,
    /// Staff (with role) or customer.
    pub kind: ActorKind,
    /// The user's display name, for timeline summaries.
    pub name: String,
    /// The sign-in session the caller's access token belongs to (`None` for tokens printed by
    /// `threadline token`, and for actors made inside the gateway).
    pub session_id: Option<i64>,
}

impl Actor {
    /// True for owners and admins, who have admin access to everything in their organization.
    pub fn is_org_admin(&self) -> bool {
        matches!(self.kind, ActorKind::Staff(Role::Owner | Role::Admin))
    }

    /// True for staff users of any role.
    pub fn is_staff(&self) -> bool {
        matches!(self.kind, ActorKind::Staff(_))
    }

    /// Fails with `FORBIDDEN` unless the actor is an owner or admin.
    pub fn require_org_admin(&self, what: &str) -> ApiResult<()> {
        if self.is_org_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "only owners and admins may {what}"
            )))
        }
    }

    /// Fails with `FORBIDDEN` unless the actor is a staff user.
    pub fn require_staff(&self, what: &str) -> ApiResult<()> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "customer users may not {what}"
            )))
        }
    }
}
