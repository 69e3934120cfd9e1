//! The demo organization created on the first start of an empty database, so a newcomer has
//! something to query in the playground.
//!
//! Users (all `@demo.test`): `owner` (OWNER), `admin` (ADMIN), `ana` and `ben` (MEMBER), and
//! `customer`, the customer user of the first contact. Twenty contacts with emails and phones;
//! Ana created six of them (so she holds `ADMIN` there) and has `WRITE` on four more, Ben has
//! `READ` on five. Three task types (Call suggests a Meeting two days later), two labels, a
//! message template, three notes on Maria Garcia (team, Ana's private one, one shared with the
//! customer; the team note mentions Olivia, who has a notification about it) and a few planned
//! calls. Two channels (the Sales line, Ana may write on it; the
//! Support mailbox, Ben may read it) and conversations on both.

use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait, sea_query::Expr,
};

use crate::{
    auth, db,
    error::{ApiError, ApiResult},
    service::{
        access::AccessLevel,
        actor::{Actor, Role},
        channels::{self, ChannelKind},
        collaborators,
        contacts::{self, AddressInput, CreateContact, EmailInput, PhoneInput},
        conversations::{self, NewMessage},
        notes::{self, AttachedTo, CreateNote, Visibility},
        now, organizations, sessions,
        settings::{self, TaskTypeInput, TemplateInput},
        tasks::{self, CreateTask},
        users::{self, CreateUser, NewUserKind},
    },
};

const CONTACTS: [(&str, &str); 20] = [
    ("Maria Garcia", "Garcia Bakery"),
    ("James Smith", "Smith & Sons"),
    ("Chen Wei", "Lotus Imports"),
    ("Amara Okafor", "Okafor Design"),
    ("Lukas Novak", "Novak Logistics"),
    ("Sofia Rossi", "Rossi Caffè"),
    ("Noah Johnson", "Northwind Traders"),
    ("Yuki Tanaka", "Tanaka Studio"),
    ("Fatima Zahra", "Atlas Travel"),
    ("Oliver Brown", "Brown Hardware"),
    ("Elena Petrova", "Petrova Consulting"),
    ("Mateo Silva", "Silva Surf Shop"),
    ("Aisha Khan", "Khan Pharmacy"),
    ("Liam Murphy", "Murphy's Pub"),
    ("Ingrid Larsen", "Fjord Outfitters"),
    ("Kwame Mensah", "Mensah Farms"),
    ("Chloé Martin", "Martin Fleurs"),
    ("Diego Ramirez", "Ramirez Auto"),
    ("Hannah Müller", "Müller Bikes"),
    ("Ravi Patel", "Patel Electronics"),
];

/// The demo users' password on a loopback listener, where only this machine can use it (on any
/// other listener, `--demo` gets a random one, printed in the banner).
pub const DEMO_PASSWORD: &str = "threadline-demo";

/// The demo organization's staff users, owner first (the console's demo sign-in offers them
/// in this order).
pub const STAFF_EMAILS: [&str; 4] = [
    "owner@demo.test",
    "admin@demo.test",
    "ana@demo.test",
    "ben@demo.test",
];

/// The demo organization's customer user (of its first contact, Maria Garcia).
pub const CUSTOMER_EMAIL: &str = "customer@demo.test";

/// The instance setting the seeding claims: its presence says the demo organization was
/// created on this database.
pub const SEEDED_SETTING: &str = "demo_seeded_by";

/// Creates the demo organization when the database has none and no other process is creating
/// it, every demo user signing in with `password`; returns its owner then, `None` otherwise.
pub async fn seed_if_empty(
    db: &DatabaseConnection,
    password: &str,
) -> ApiResult<Option<entity::user::Model>> {
    if entity::organization::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    // One hash for the five demo users: they share the documented password anyway.
    let hash = crate::service::passwords::hash(password).await?;
    // All or nothing: a failed seed leaves an empty database, so the next start tries again.
    let txn = db.begin().await?;
    let owner = seed(&txn, &hash).await?;
    txn.commit().await?;
    Ok(owner)
}

/// Replaces the documented [`DEMO_PASSWORD`] of the demo users who still have it by `fresh`,
/// and ends their sessions; returns their emails (empty when none had it, or the database was
/// never seeded with the demo).
///
/// For a start on a listener that is not loopback: a database first seeded on loopback keeps
/// the documented password, which anyone who reads the README could then use there. One argon2
/// check per demo user. The update only takes when the stored hash is still the one checked, so
/// of two processes starting together only one replaces it (and reports it).
pub async fn retire_documented_password(
    db: &DatabaseConnection,
    fresh: &str,
) -> ApiResult<Vec<String>> {
    use entity::{user, user_password};

    if db::setting(db, SEEDED_SETTING).await?.is_none() {
        return Ok(Vec::new());
    }
    // Emails are unique across the instance: the demo owner's organization is the demo one.
    let Some(owner) = user::Entity::find()
        .filter(user::Column::Email.eq(STAFF_EMAILS[0]))
        .one(db)
        .await?
    else {
        return Ok(Vec::new());
    };
    let org = owner.organization_id;
    let emails = STAFF_EMAILS.iter().copied().chain([CUSTOMER_EMAIL]);
    let demo_users = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(org))
        .filter(user::Column::Email.is_in(emails))
        .all(db)
        .await?;
    let stored = user_password::Entity::find()
        .filter(user_password::Column::OrganizationId.eq(org))
        .filter(user_password::Column::UserId.is_in(demo_users.iter().map(|u| u.id)))
        .all(db)
        .await?;
    let mut documented = Vec::new();
    for row in stored {
        if crate::service::passwords::verify(DEMO_PASSWORD, Some(row.password_hash.clone())).await?
        {
            documented.push(row);
        }
    }
    if documented.is_empty() {
        return Ok(Vec::new());
    }
    let hash = crate::service::passwords::hash(fresh).await?;
    let txn = db.begin().await?;
    let mut replaced = Vec::new();
    for row in documented {
        let updated = user_password::Entity::update_many()
            .col_expr(
                user_password::Column::PasswordHash,
                Expr::value(hash.clone()),
            )
            .col_expr(user_password::Column::ChangedAt, Expr::value(now()))
            .filter(user_password::Column::OrganizationId.eq(org))
            .filter(user_password::Column::UserId.eq(row.user_id))
            .filter(user_password::Column::PasswordHash.eq(row.password_hash))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated == 0 {
            continue;
        }
        sessions::revoke_all(
            &txn,
            org,
            row.user_id,
            None,
            sessions::RevokeReason::PasswordChanged,
        )
        .await?;
        replaced.push(row.user_id);
    }
    txn.commit().await?;
    // In the documented order: owner first, the customer last.
    Ok(STAFF_EMAILS
        .iter()
        .copied()
        .chain([CUSTOMER_EMAIL])
        .filter(|email| {
            demo_users
                .iter()
                .any(|u| u.email == *email && replaced.contains(&u.id))
        })
        .map(str::to_owned)
        .collect())
}

async fn seed(db: &DatabaseTransaction, hash: &str) -> ApiResult<Option<entity::user::Model>> {
    // Claim the seeding: of two processes starting on one empty database only one wins.
    let claim = format!("{:x}", u128::from_le_bytes(db::random_bytes::<16>()));
    let winner = db::setting_or_insert(db, SEEDED_SETTING, || claim.clone()).await?;
    if winner != claim {
        return Ok(None);
    }
    let org = organizations::create(db, "Demo Company").await?;
    let staff = |email: &str, name: &str, role| CreateUser {
        email: email.into(),
        name: name.into(),
        kind: NewUserKind::Staff(role),
    };
    let owner = users::insert_unchecked(
        db,
        org.id,
        &staff(STAFF_EMAILS[0], "Olivia Owner", Role::Owner),
    )
    .await?;
    users::insert_unchecked(
        db,
        org.id,
        &staff(STAFF_EMAILS[1], "Adam Admin", Role::Admin),
    )
    .await?;
    let ana = users::insert_unchecked(
        db,
        org.id,
        &staff(STAFF_EMAILS[2], "Ana Member", Role::Member),
    )
    .await?;
    let ben = users::insert_unchecked(
        db,
        org.id,
        &staff(STAFF_EMAILS[3], "Ben Member", Role::Member),
    )
    .await?;
    let as_actor = |u: &entity::user::Model| {
        auth::actor_of(u).ok_or_else(|| ApiError::Internal("demo user".into()))
    };
    let (owner_actor, ana_actor) = (as_actor(&owner)?, as_actor(&ana)?);

    let mut contact_ids = Vec::new();
    for (i, (name, company)) in CONTACTS.iter().enumerate() {
        let slug = name
            .to_lowercase()
            .split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(".");
        let domain: String = company
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let input = CreateContact {
            name: (*name).into(),
            emails: vec![EmailInput {
                email: format!("{slug}@{domain}.example"),
                label: Some("work".into()),
                primary: true,
            }],
            phones: vec![PhoneInput {
                number: format!("+1 415 555 {:04}", 100 + i),
                label: Some("mobile".into()),
                primary: true,
            }],
            addresses: if i % 4 == 0 {
                vec![AddressInput {
                    label: Some("office".into()),
                    line1: format!("{} Market Street", 100 + i),
                    city: Some("San Francisco".into()),
                    region: Some("CA".into()),
                    postal_code: Some("94105".into()),
                    country: Some("US".into()),
                    primary: true,
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            consultant_id: Some(if i < 10 { ana.id } else { owner.id }),
            custom_fields: Some(
                serde_json::json!({ "company": company, "tier": if i % 3 == 0 { "gold" } else { "standard" } }),
            ),
            label_ids: Vec::new(),
        };
        let creator = if i < 6 { &ana_actor } else { &owner_actor };
        contact_ids.push(contacts::create(db, creator, input).await?.contact.id);
    }
    for id in &contact_ids[6..10] {
        collaborators::grant(db, &owner_actor, *id, ana.id, AccessLevel::Write).await?;
    }
    for id in &contact_ids[0..5] {
        collaborators::grant(db, &owner_actor, *id, ben.id, AccessLevel::Read).await?;
    }
    seed_notes_and_tasks(db, &owner_actor, &ana_actor, &contact_ids).await?;
    seed_conversations(db, &owner_actor, &ana_actor, ana.id, ben.id, &contact_ids).await?;
    users::insert_unchecked(
        db,
        org.id,
        &CreateUser {
            email: CUSTOMER_EMAIL.into(),
            name: CONTACTS[0].0.into(),
            kind: NewUserKind::Customer(contact_ids[0]),
        },
    )
    .await?;
    tracing::info!(organization = org.id, "created the demo organization");
    let everyone = entity::user::Entity::find()
        .filter(entity::user::Column::OrganizationId.eq(org.id))
        .all(db)
        .await?;
    for user in &everyone {
        sessions::insert_password_hash(db, user, hash.to_owned()).await?;
    }
    Ok(Some(owner))
}

/// Two channels and a few conversations, so the playground shows an inbox: Ana may write on
/// the sales line, Ben may read the support mailbox.
async fn seed_conversations(
    db: &DatabaseTransaction,
    owner: &Actor,
    ana: &Actor,
    ana_id: i64,
    ben_id: i64,
    contacts: &[i64],
) -> ApiResult<()> {
    let sales = channels::create(
        db,
        owner,
        ChannelKind::Phone,
        "+1 415 555 0000",
        "Sales line",
    )
    .await?
    .channel
    .id;
    let support = channels::create(
        db,
        owner,
        ChannelKind::Email,
        "support@demo.test",
        "Support",
    )
    .await?
    .channel
    .id;
    channels::grant(db, owner, sales, ana_id, AccessLevel::Write).await?;
    channels::grant(db, owner, support, ben_id, AccessLevel::Read).await?;
    let message = |contact: i64, channel: i64, body: &str| NewMessage {
        contact_id: contact,
        channel_id: channel,
        body: body.into(),
        sent_at: None,
        external_id: None,
    };
    conversations::send(
        db,
        ana,
        message(
            contacts[0],
            sales,
            "Hi Maria, the renewal offer is on its way.",
        ),
    )
    .await?;
    conversations::record_inbound(
        db,
        owner,
        message(
            contacts[0],
            sales,
            "Great, thanks Ana! Can we talk on Friday?",
        ),
    )
    .await?;
    conversations::record_inbound(
        db,
        owner,
        message(contacts[1], support, "My invoice shows the wrong address."),
    )
    .await?;
    conversations::send(
        db,
        owner,
        message(
            contacts[1],
            support,
            "Sorry James, we have fixed it and sent a new invoice.",
        ),
    )
    .await?;
    conversations::record_inbound(
        db,
        owner,
        message(contacts[2], sales, "Do you ship to Canada?"),
    )
    .await?;
    Ok(())
}

/// Settings, notes and tasks, so the timeline, notes and task lists have something to show.
async fn seed_notes_and_tasks(
    db: &DatabaseTransaction,
    owner: &Actor,
    ana: &Actor,
    contacts: &[i64],
) -> ApiResult<()> {
    let meeting = settings::save_task_type(
        db,
        owner,
        None,
        TaskTypeInput {
            name: Some("Meeting".into()),
            ..Default::default()
        },
    )
    .await?;
    let call = settings::save_task_type(
        db,
        owner,
        None,
        TaskTypeInput {
            name: Some("Call".into()),
            next_type_id: Some(Some(meeting.id)),
            next_delay_minutes: Some(Some(2 * 24 * 60)),
        },
    )
    .await?;
    settings::save_task_type(
        db,
        owner,
        None,
        TaskTypeInput {
            name: Some("Email".into()),
            ..Default::default()
        },
    )
    .await?;
    let renewal =
        settings::save_label(db, owner, None, Some("renewal"), Some(Some("#1f6feb"))).await?;
    settings::save_label(db, owner, None, Some("vip"), Some(Some("#d29922"))).await?;
    settings::save_template(
        db,
        owner,
        None,
        TemplateInput {
            name: Some("Follow-up".into()),
            subject: Some(Some("Following up with {{contact.name}}".into())),
            body: Some("Hi {{contact.name}}, {{user.name}} here: thanks for your time today. I will call you at {{contact.phone}} next week.".into()),
        },
    )
    .await?;
    let in_days = |days: i64| now() + chrono::Duration::days(days);
    notes::create(
        db,
        ana,
        CreateNote {
            contact_id: contacts[0],
            subject: Some("Renewal call".into()),
            body: Some("Maria wants to renew for two years if we keep the current price. Send the offer by Friday. @Olivia Owner, can you approve the price?".into()),
            label_ids: vec![renewal.id],
            type_id: Some(call.id),
            attached_to: Some(AttachedTo { kind: "order".into(), id: "SO-1001".into() }),
            task: Some(CreateTask {
                description: "Send the two-year renewal offer".into(),
                type_id: Some(call.id),
                tags: vec!["renewal".into()],
                scheduled_at: Some(in_days(2)),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await?;
    notes::create(
        db,
        ana,
        CreateNote {
            contact_id: contacts[0],
            subject: Some("Personal reminder".into()),
            body: Some("Maria prefers calls after 3pm. (Only Ana sees this note.)".into()),
            visibility: Some(Visibility::Private),
            ..Default::default()
        },
    )
    .await?;
    notes::create(
        db,
        owner,
        CreateNote {
            contact_id: contacts[0],
            subject: Some("Welcome to Demo Company".into()),
            body: Some("Thanks for being a customer! This note is shared with Maria.".into()),
            body_html: Some("<p>Thanks for being a <strong>customer</strong>!</p>".into()),
            visibility: Some(Visibility::Customer),
            ..Default::default()
        },
    )
    .await?;
    for (i, contact) in contacts.iter().take(3).enumerate() {
        let days = i64::try_from(i).unwrap_or(0) + 1;
        tasks::create(
            db,
            ana,
            CreateTask {
                contact_id: *contact,
                description: format!("Check in call #{days}"),
                type_id: Some(call.id),
                scheduled_at: Some(in_days(days)),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}
