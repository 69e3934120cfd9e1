//! The `small` dataset, generated on the test database (an SQLite file, or a fresh PostgreSQL
//! database when `TEST_DATABASE_URL` is set): its counts, what a member sees through the
//! gateway's own access rules, and that one seed always gives the same rows.

use std::hash::{DefaultHasher, Hash, Hasher};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use threadline::{
    auth::{Actor, ActorKind, Role},
    service::{
        contacts::{self, ContactFilter},
        conversations::{self, ConversationFilter},
    },
};
use threadline_bench::{
    database::{self, Fresh},
    plan::{Marks, Plan},
    scale::SMALL,
    seed,
};

async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a number")
}

/// A digest of the rows that make the dataset what it is (names, grants, text, timeline).
async fn digest(db: &DatabaseConnection) -> u64 {
    let mut hasher = DefaultHasher::new();
    for sql in [
        "SELECT CAST(id AS TEXT) || ':' || name FROM contacts ORDER BY id",
        "SELECT CAST(contact_id AS TEXT) || ':' || CAST(user_id AS TEXT) || ':' || access FROM contact_collaborators ORDER BY id",
        "SELECT CAST(contact_id AS TEXT) || ':' || CAST(author_id AS TEXT) || ':' || body FROM notes ORDER BY id",
        "SELECT CAST(contact_id AS TEXT) || ':' || kind || ':' || summary FROM timeline_events ORDER BY id",
        "SELECT CAST(conversation_id AS TEXT) || ':' || CAST(last_read_message_id AS TEXT) FROM conversation_reads ORDER BY conversation_id, user_id",
    ] {
        for row in db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect(sql)
        {
            row.try_get_by_index::<String>(0)
                .expect("text")
                .hash(&mut hasher);
        }
    }
    hasher.finish()
}

#[tokio::test]
async fn the_small_dataset_has_its_counts_and_a_member_sees_a_tenth_of_the_contacts() {
    let admin = std::env::var("TEST_DATABASE_URL").ok();
    let fresh = Fresh::create(admin.as_deref()).await.expect("a database");
    let db = database::connect(&fresh.url).await.expect("connect");
    let seeded = seed::seed(&db, SMALL, 42).await.expect("seed");

    // The scale's counts, and every count the generator reports is what the table holds.
    for (table, expected) in [
        ("organizations", 1),
        ("users", 10),
        ("contacts", 500),
        ("timeline_events", 15_000),
        ("notes", 5_000),
        ("tasks", 5_000),
        ("channels", 20),
        ("conversations", 1_000),
        ("messages", 5_000),
        ("contact_collaborators", 7 * 50),
        ("channel_collaborators", 7 * 3),
    ] {
        let n = number(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, expected, "{table}");
    }
    for (table, rows) in &seeded.rows {
        let n = number(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, i64::try_from(*rows).expect("count"), "{table}");
    }
    // One event per contact, note and task; the rest are messages'.
    for (kinds, expected) in [
        ("'CONTACT_CREATED'", 500),
        ("'NOTE_CREATED'", 5_000),
        ("'TASK_CREATED'", 5_000),
        ("'MESSAGE_SENT', 'MESSAGE_RECEIVED'", 4_500),
    ] {
        let n = number(
            &db,
            &format!("SELECT COUNT(*) FROM timeline_events WHERE kind IN ({kinds})"),
        )
        .await;
        assert_eq!(n, expected, "{kinds}");
    }
    // Every event is about a row that exists, on the event's contact.
    let orphans = number(
        &db,
        "SELECT COUNT(*) FROM timeline_events e WHERE NOT EXISTS ( \
           SELECT 1 FROM notes n WHERE e.subject_kind = 'Note' AND n.id = e.subject_id AND n.contact_id = e.contact_id \
           UNION ALL SELECT 1 FROM tasks t WHERE e.subject_kind = 'Task' AND t.id = e.subject_id AND t.contact_id = e.contact_id \
           UNION ALL SELECT 1 FROM contacts c WHERE e.subject_kind = 'Contact' AND c.id = e.subject_id AND c.id = e.contact_id \
           UNION ALL SELECT 1 FROM messages m JOIN conversations cv ON cv.id = m.conversation_id \
             WHERE e.subject_kind = 'Message' AND m.id = e.subject_id AND cv.contact_id = e.contact_id \
             AND cv.channel_id = e.audience_channel_id)",
    )
    .await;
    assert_eq!(orphans, 0, "events whose subject is missing");
    // Ids follow time, as when the gateway writes the rows (the timeline's keyset order).
    let out_of_order = number(
        &db,
        "SELECT COUNT(*) FROM timeline_events a JOIN timeline_events b ON b.id = a.id + 1 \
         WHERE b.occurred_at < a.occurred_at",
    )
    .await;
    assert_eq!(out_of_order, 0);
    // A conversation's last message is its newest.
    let stale = number(
        &db,
        "SELECT COUNT(*) FROM conversations cv WHERE cv.last_message_id <> \
         (SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = cv.id)",
    )
    .await;
    assert_eq!(stale, 0);

    // Each member sees 10% of the contacts and 3 channels, through the gateway's own access
    // rules, and the conversations whose contact and channel they both hold a grant on.
    let members = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, organization_id FROM users WHERE role = 'MEMBER' ORDER BY id",
        ))
        .await
        .expect("members");
    assert_eq!(members.len(), 7);
    let mut seen_conversations = 0;
    for row in &members {
        let (user_id, org_id): (i64, i64) = (
            row.try_get_by_index(0).expect("id"),
            row.try_get_by_index(1).expect("org"),
        );
        let member = Actor {
            user_id,
            org_id,
            kind: ActorKind::Staff(Role::Member),
            name: "member".into(),
            session_id: None,
        };
        let mut visible = 0;
        for archived in [false, true] {
            let filter = ContactFilter {
                archived,
                ..ContactFilter::default()
            };
            visible += contacts::count(&db, &member, &filter).await.expect("count");
        }
        assert_eq!(visible, 50, "10% of 500 contacts for user {user_id}");
        let channels = number(
            &db,
            &format!("SELECT COUNT(*) FROM channel_collaborators WHERE user_id = {user_id}"),
        )
        .await;
        assert_eq!(channels, 3);
        let inbox = conversations::count(&db, &member, &ConversationFilter::default())
            .await
            .expect("inbox");
        let expected = number(
            &db,
            &format!(
                "SELECT COUNT(*) FROM conversations cv \
                 WHERE EXISTS (SELECT 1 FROM contact_collaborators g WHERE g.contact_id = cv.contact_id AND g.user_id = {user_id}) \
                 AND EXISTS (SELECT 1 FROM channel_collaborators g WHERE g.channel_id = cv.channel_id AND g.user_id = {user_id})"
            ),
        )
        .await;
        assert_eq!(inbox, expected);
        seen_conversations += inbox;
    }
    // A tenth of the contacts and 3 of 20 channels: about 1.5% of the 1,000 conversations
    // each, 105 over the 7 members (the draw is random, the bounds loose).
    assert!(
        (50..=200).contains(&seen_conversations),
        "{seen_conversations} conversations seen by the members"
    );
    let owner = Actor {
        user_id: 1,
        org_id: 1,
        kind: ActorKind::Staff(Role::Owner),
        name: "owner".into(),
        session_id: None,
    };
    let owner_active = contacts::count(&db, &owner, &ContactFilter::default())
        .await
        .expect("count");
    let archived = number(&db, "SELECT COUNT(*) FROM contacts WHERE archived = TRUE").await;
    assert_eq!(owner_active + archived, 500);

    // The driver's view: every member can be drawn from, and what a write workload adds
    // is removed again.
    let plan = Plan::load(&db).await.expect("plan");
    assert_eq!(plan.orgs.len(), 1);
    assert_eq!(plan.orgs[0].members.len(), 7);
    assert!(plan.orgs[0].members.iter().all(|m| m.visible.len() == 50));
    assert_eq!(plan.orgs[0].contacts.len(), 500);
    let marks = Marks::take(&db).await.expect("marks");
    db.execute_unprepared(
        "INSERT INTO notes (organization_id, contact_id, author_id, body, visibility, created_at, updated_at) \
         VALUES (1, 1, 1, 'written by a run', 'TEAM', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
    )
    .await
    .expect("a note");
    assert_eq!(number(&db, "SELECT COUNT(*) FROM notes").await, 5_001);
    assert_eq!(marks.restore(&db).await.expect("restore"), 1);
    assert_eq!(number(&db, "SELECT COUNT(*) FROM notes").await, 5_000);

    // The same seed gives the same rows in another database; and a new row takes a fresh id
    // (PostgreSQL's sequences were moved past the generated ones).
    let again = Fresh::create(admin.as_deref()).await.expect("a database");
    let db2 = database::connect(&again.url).await.expect("connect");
    seed::seed(&db2, SMALL, 42).await.expect("seed again");
    assert_eq!(digest(&db).await, digest(&db2).await);
    db2.execute_unprepared(
        "INSERT INTO labels (organization_id, name, created_at) VALUES (1, 'fresh', '2026-01-01T00:00:00+00:00')",
    )
    .await
    .expect("a new row takes the next id");
    assert!(
        seed::seed(&db2, SMALL, 42).await.is_err(),
        "a second dataset into the same database"
    );
    let _ = db.close().await;
    let _ = db2.close().await;
    fresh.remove().await.expect("drop");
    again.remove().await.expect("drop");
}
