//! The console's one-click demo sign-in: `GET /console/demo.json`, what the picker is built from.
//!
//! Design: the server decides, the page only asks. The route exists only when the gateway
//! listens on a loopback address (on any other listener it is not registered, so it answers 404
//! like any unknown path, and nothing the console serves there holds the demo password or the
//! users). On a loopback listener it answers 404 as well unless the request comes from this
//! machine (see [`super::local`]: a page of another site, a rebound host name or a proxy's
//! client is refused, and the console's routes carry no CORS headers), the demo organization
//! was created on this database and some of its staff users (`owner`, `admin`, `ana`, `ben`
//! `@demo.test`) are active and have a password; then it lists them (name, email, role) with
//! [`DEMO_PASSWORD`], and the console signs in through the real `signIn` mutation. Whether the
//! password still works is not checked here (that would be an argon2 verification per user and
//! page load): when an admin changed it, or the demo was created with `--demo` on another
//! address (a random password), or a start on another address replaced it
//! ([`crate::demo::retire_documented_password`]), `signIn` refuses and the console shows the
//! server's message.
//!
//! A JSON endpoint rather than data written into the page keeps the page static and its
//! Content-Security-Policy free of inline scripts.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::demo::{DEMO_PASSWORD, SEEDED_SETTING as SEEDED, STAFF_EMAILS as DEMO_USERS};

/// What the picker is built from.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct DemoSignIn {
    /// The demo users' documented password.
    pub password: &'static str,
    /// The demo users who may sign in, in [`crate::demo::STAFF_EMAILS`] order.
    pub users: Vec<DemoUser>,
}

/// One demo user, as the picker shows it.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct DemoUser {
    /// Display name.
    pub name: String,
    /// Login email.
    pub email: String,
    /// `OWNER`, `ADMIN` or `MEMBER`.
    pub role: String,
}

/// Whether the console may offer the demo sign-in on a listener bound to `listen`: only where
/// this machine alone can reach it, as for the documented demo password itself.
pub fn offered_on(listen: std::net::SocketAddr) -> bool {
    listen.ip().is_loopback()
}

/// The demo users the picker offers, or `None` when there is no demo organization or none of
/// its demo staff users is active with a password.
pub async fn demo_sign_in<C: ConnectionTrait>(db: &C) -> Result<Option<DemoSignIn>, DbErr> {
    use entity::{user, user_password};

    if crate::db::setting(db, SEEDED).await?.is_none() {
        return Ok(None);
    }
    // Emails are unique across the instance: the demo owner's organization is the demo one.
    let Some(owner) = user::Entity::find()
        .filter(user::Column::Email.eq(DEMO_USERS[0]))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let org = owner.organization_id;
    let candidates = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(org))
        .filter(user::Column::Email.is_in(DEMO_USERS))
        .filter(user::Column::Kind.eq("STAFF"))
        .filter(user::Column::Active.eq(true))
        .all(db)
        .await?;
    let with_password: Vec<i64> = user_password::Entity::find()
        .filter(user_password::Column::OrganizationId.eq(org))
        .filter(user_password::Column::UserId.is_in(candidates.iter().map(|u| u.id)))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect();
    let users: Vec<DemoUser> = DEMO_USERS
        .iter()
        .filter_map(|email| candidates.iter().find(|u| u.email == *email))
        .filter(|u| with_password.contains(&u.id))
        .map(|u| DemoUser {
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.clone().unwrap_or_default(),
        })
        .collect();
    Ok((!users.is_empty()).then_some(DemoSignIn {
        password: DEMO_PASSWORD,
        users,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_listener_offers_the_demo_sign_in() {
        let at = |a: &str| a.parse::<std::net::SocketAddr>().expect("address");
        assert!(offered_on(at("127.0.0.1:8080")));
        assert!(offered_on(at("127.0.0.2:0")));
        assert!(offered_on(at("[::1]:8080")));
        assert!(!offered_on(at("0.0.0.0:8080")));
        assert!(!offered_on(at("[::]:8080")));
        assert!(!offered_on(at("10.0.0.5:8080")));
        assert!(!offered_on(at("192.168.1.20:8080")));
        // An IPv4-mapped loopback is not taken for one: refusing is the safe side.
        assert!(!offered_on(at("[::ffff:127.0.0.1]:8080")));
    }
}
