//! Live updates through the bus (issue 12): subscriptions are woken by committed changes from
//! any gateway process, idle subscribers cost the database nothing, the reminder scheduler
//! fires on time and once, and the bus survives losing its connection.
//!
//! The test gateways keep the bus's safety read at its 30 s default, so everything these tests
//! see within a few seconds came through the bus, not through a fallback.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use serde_json::json;
use threadline::service::reminders::{self, RemindOf};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{TestApp, contact_id, fresh_database, start, start_with_timers, world, ws_connect},
    subscriptions::{ready, receive, send},
};

const LIVE: &str = "subscription ($id: ID!) { timelineEvents(contactId: $id) { kind summary } }";

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres")
}

async fn create_note(app: &TestApp, token: &str, contact: &str, subject: &str, visibility: &str) {
    app.gql(
        Some(token),
        "mutation ($c: ID!, $s: String!, $v: Visibility!) { createNote(input: { contactId: $c, subject: $s, visibility: $v }) { id } }",
        json!({ "c": contact, "s": subject, "v": visibility }),
    )
    .await
    .data();
}

/// A subscriber on one gateway gets an event written through another at once (the bus, not the
/// 30 s safety read), and never an event it may not see: another user's private note wakes it
/// but is filtered out by the access-checked re-read. On SQLite, whose file one process owns,
/// the writer is the same gateway.
#[tokio::test]
async fn a_subscriber_gets_what_another_gateway_wrote_at_once_and_nothing_it_may_not_see() {
    let (url, guard) = fresh_database().await;
    let reader = start(&url, false, guard.clone()).await;
    let writer_app;
    let writer = if is_postgres(&url) {
        writer_app = start(&url, false, guard.clone()).await;
        &writer_app
    } else {
        &reader
    };
    let w = world(&reader).await;
    let cid = contact_id(w.contact);
    let member = reader.token(&w.member_read);
    let owner = writer.token(&w.owner);
    let mut socket = ready(&reader, &member).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "t", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    // The subscription is registered once the hub holds it.
    wait_for_registrations(&reader, 1).await;

    create_note(writer, &owner, &cid, "Owner's private thought", "PRIVATE").await;
    let written = Instant::now();
    create_note(writer, &owner, &cid, "Shared call notes", "TEAM").await;
    let next = receive(&mut socket).await;
    let latency = written.elapsed();
    assert_eq!(next["type"], "next", "{next}");
    let event = &next["payload"]["data"]["timelineEvents"];
    assert_eq!(event["kind"], "NOTE_CREATED", "{next}");
    assert!(
        event["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Shared call notes")),
        "the first event the member sees is the shared note, not the private one: {next}"
    );
    // Far below the safety read's 30 s: the bus carried it (the benchmark holds the latency
    // target; this bound only has to tell the bus from the fallback on a busy machine).
    assert!(
        latency < Duration::from_secs(2),
        "the event took {latency:?}"
    );
    assert!(writer.hub.signals_delivered() > 0);
}

/// A note written with its task records two events and tells the other gateways in one
/// `NOTIFY` (`query_count` pins that): a subscriber there gets both, and its bus heard of each
/// of them, so the safety read has nothing left to wake anyone for.
#[tokio::test]
async fn both_events_of_a_note_with_a_task_reach_another_gateway_through_the_bus() {
    let (url, guard) = fresh_database().await;
    let reader = start(&url, false, guard.clone()).await;
    let writer_app;
    let writer = if is_postgres(&url) {
        writer_app = start(&url, false, guard.clone()).await;
        &writer_app
    } else {
        &reader
    };
    let w = world(&reader).await;
    let cid = contact_id(w.contact);
    let member = reader.token(&w.member_read);
    let owner = writer.token(&w.owner);
    let mut socket = ready(&reader, &member).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "t", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    wait_for_registrations(&reader, 1).await;

    writer
        .gql(
            Some(&owner),
            "mutation ($c: ID!) { createNote(input: { contactId: $c, subject: \"Renewal\", task: { description: \"Send the offer\" } }) { id } }",
            json!({ "c": cid }),
        )
        .await
        .data();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let next = receive(&mut socket).await;
        assert_eq!(next["type"], "next", "{next}");
        kinds.push(
            next["payload"]["data"]["timelineEvents"]["kind"]
                .as_str()
                .expect("kind")
                .to_owned(),
        );
    }
    assert_eq!(kinds, ["NOTE_CREATED", "TASK_CREATED"]);
    #[derive(FromQueryResult)]
    struct Id {
        id: i64,
    }
    let events = Id::find_by_statement(Statement::from_string(
        reader.db.get_database_backend(),
        "SELECT id FROM timeline_events WHERE kind IN ('NOTE_CREATED', 'TASK_CREATED')".to_owned(),
    ))
    .all(&reader.db)
    .await
    .expect("events");
    assert_eq!(events.len(), 2);
    for event in events {
        assert!(
            !reader.hub.missed_event(event.id),
            "the reader's bus never heard of event {}",
            event.id
        );
    }
}

async fn wait_for_registrations(app: &TestApp, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.registrations() < at_least {
        assert!(
            Instant::now() < deadline,
            "only {} of {at_least} registrations",
            app.hub.registrations()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two hundred idle subscriptions (timelines and reminders) send the database nothing: their
/// cost does not grow with their number. A change then reaches every one of them.
#[tokio::test]
async fn idle_subscribers_cost_the_database_nothing() {
    let (url, guard) = fresh_database().await;
    let app = start(&url, false, guard).await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let owner = app.token(&w.owner);
    const SOCKETS: usize = 4;
    const PER_SOCKET: usize = 50;
    let mut sockets = Vec::new();
    for s in 0..SOCKETS {
        let mut socket = ready(&app, &owner).await;
        for i in 0..PER_SOCKET {
            let id = format!("{s}-{i}");
            let payload = if i % 2 == 0 {
                json!({ "query": LIVE, "variables": { "id": cid } })
            } else {
                json!({ "query": "subscription { reminders { id } }" })
            };
            send(
                &mut socket,
                json!({ "type": "subscribe", "id": id, "payload": payload }),
            )
            .await;
        }
        sockets.push(socket);
    }
    wait_for_registrations(&app, SOCKETS * PER_SOCKET).await;
    // A subscription registers before it reads where to start: wait until those reads are
    // done (the callers are known by now, so the 200 `subscribe`s come at once and their
    // starting reads are still running when the last one registers).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = app.statements().await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = app.statements().await;
        if now == seen {
            break;
        }
        assert!(Instant::now() < deadline, "the subscriptions never settled");
        seen = now;
    }

    let before = app.statements().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = app.statements().await - before;
    // Each socket re-checks its user every few seconds; the subscriptions themselves read
    // nothing until woken.
    assert!(
        idle <= SOCKETS as u64,
        "{idle} statements in 2 s with {} idle subscriptions",
        SOCKETS * PER_SOCKET
    );

    create_note(&app, &owner, &cid, "Everyone hears this", "TEAM").await;
    for socket in &mut sockets {
        let mut timelines = 0;
        while timelines < PER_SOCKET / 2 {
            let next = receive(socket).await;
            assert_eq!(next["type"], "next", "{next}");
            assert_eq!(
                next["payload"]["data"]["timelineEvents"]["kind"],
                "NOTE_CREATED"
            );
            timelines += 1;
        }
    }
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    Count::find_by_statement(Statement::from_string(
        app.db.get_database_backend(),
        sql.to_owned(),
    ))
    .one(&app.db)
    .await
    .expect("count")
    .expect("a row")
    .n
}

#[derive(FromQueryResult)]
struct Due {
    remind_at: chrono::DateTime<chrono::Utc>,
    fired_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The scheduler sleeps until the next reminder is due and fires it within a second, exactly
/// once, with two gateways on PostgreSQL: 200 reminders due in the same second each fire once
/// (one `REMINDER_FIRED` event each).
#[tokio::test]
async fn reminders_fire_on_time_and_once_each_with_two_gateways() {
    let (url, guard) = fresh_database().await;
    let first = start_with_timers(&url, guard.clone(), |_| {}).await;
    let _second = if is_postgres(&url) {
        Some(start_with_timers(&url, guard.clone(), |_| {}).await)
    } else {
        None
    };
    let w = world(&first).await;
    let owner = first.token(&w.owner);
    let note = first
        .gql(
            Some(&owner),
            "mutation ($c: ID!) { createNote(input: { contactId: $c, subject: \"Renewal\" }) { id } }",
            json!({ "c": contact_id(w.contact) }),
        )
        .await
        .data()["createNote"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let note = threadline::ids::decode(threadline::ids::Kind::Note, &note).expect("note id");
    // Whole seconds ahead, so the scheduler has long been asleep when they come due.
    let due = chrono::Utc::now() + chrono::Duration::seconds(3);
    for _ in 0..200 {
        reminders::add(
            &first.db,
            w.owner.organization_id,
            w.owner.id,
            w.contact,
            RemindOf::Note(note),
            due,
        )
        .await
        .expect("reminder");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(
        &first,
        "SELECT COUNT(*) AS n FROM reminders WHERE status = 'FIRED'",
    )
    .await
        < 200
    {
        assert!(Instant::now() < deadline, "the reminders did not all fire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(
            &first,
            "SELECT COUNT(*) AS n FROM timeline_events WHERE kind = 'REMINDER_FIRED'"
        )
        .await,
        200,
        "one event per reminder: none fired twice"
    );
    let rows = Due::find_by_statement(Statement::from_string(
        first.db.get_database_backend(),
        "SELECT remind_at, fired_at FROM reminders".to_owned(),
    ))
    .all(&first.db)
    .await
    .expect("reminders");
    let latest = rows
        .iter()
        .map(|r| r.fired_at.expect("fired") - r.remind_at)
        .max()
        .expect("rows");
    // The target is a second (met with room to spare in `benches/live.rs`); the suite runs
    // tests side by side on two cores, so this bound allows for a starved runtime while still
    // telling the scheduler's wake-up from the 30 s interval it would otherwise sleep.
    assert!(
        latest >= chrono::Duration::zero() && latest < chrono::Duration::seconds(3),
        "fired up to {latest} after their time"
    );
}

/// A reminder that came due while no gateway ran fires when one starts.
#[tokio::test]
async fn a_reminder_due_while_every_gateway_was_down_fires_at_start() {
    let (url, guard) = fresh_database().await;
    let mut stopped = start(&url, false, guard.clone()).await;
    let w = world(&stopped).await;
    let note = stopped
        .gql(
            Some(&stopped.token(&w.owner)),
            "mutation ($c: ID!) { createNote(input: { contactId: $c, subject: \"Missed\" }) { id } }",
            json!({ "c": contact_id(w.contact) }),
        )
        .await
        .data()["createNote"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let note = threadline::ids::decode(threadline::ids::Kind::Note, &note).expect("note id");
    reminders::add(
        &stopped.db,
        w.owner.organization_id,
        w.owner.id,
        w.contact,
        RemindOf::Note(note),
        chrono::Utc::now() - chrono::Duration::minutes(5),
    )
    .await
    .expect("reminder");
    stopped.stop().await.expect("stopped");

    let started = start_with_timers(&url, guard, |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(
        &started,
        "SELECT COUNT(*) AS n FROM reminders WHERE status = 'FIRED'",
    )
    .await
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "the missed reminder did not fire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(FromQueryResult)]
struct Pid {
    pid: i32,
}

async fn listener_pids(app: &TestApp) -> Vec<i32> {
    Pid::find_by_statement(Statement::from_string(
        app.db.get_database_backend(),
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND query ILIKE 'LISTEN%'"
            .to_owned(),
    ))
    .all(&app.db)
    .await
    .expect("pg_stat_activity")
    .into_iter()
    .map(|p| p.pid)
    .collect()
}

/// PostgreSQL only: the bus's listening connection is killed; it reconnects, and a subscriber
/// still gets the event written while it was down (the catch-up read after reconnecting) and
/// the ones after.
#[tokio::test]
async fn the_bus_reconnects_and_catches_up_after_its_connection_is_killed() {
    let (url, guard) = fresh_database().await;
    if !is_postgres(&url) {
        return;
    }
    let app = start(&url, false, guard).await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let owner = app.token(&w.owner);
    let mut socket = ws_connect(&app).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {owner}") } })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(&mut socket, json!({ "type": "subscribe", "id": "t", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    wait_for_registrations(&app, 1).await;

    let before = listener_pids(&app).await;
    assert_eq!(before.len(), 1, "one listening connection per gateway");
    app.db
        .execute_unprepared(&format!("SELECT pg_terminate_backend({})", before[0]))
        .await
        .expect("terminate");
    // Written while the bus is down or reconnecting. The bus reconnects a second after the
    // drop and then catches up by reading; on a loaded machine (the whole suite beside
    // PostgreSQL on two cores) that has taken longer than `receive`'s 5 s once, so this waits
    // up to 15 s: still half the 30 s safety read, so only the reconnect path can deliver it.
    create_note(&app, &owner, &cid, "Written during the outage", "TEAM").await;
    let next = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str::<serde_json::Value>(&text).expect("json");
                }
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the event written during the outage, within 15 s");
    assert!(
        next["payload"]["data"]["timelineEvents"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Written during the outage")),
        "{next}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = listener_pids(&app).await;
        if now.len() == 1 && now != before {
            break;
        }
        assert!(Instant::now() < deadline, "the bus did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    create_note(&app, &owner, &cid, "Written after it", "TEAM").await;
    let next = receive(&mut socket).await;
    assert!(
        next["payload"]["data"]["timelineEvents"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Written after it")),
        "{next}"
    );
}

/// A burst larger than one read (a subscription reads 100 events per wake-up) reaches the
/// subscriber whole and at once: 150 events committed together wake it once, and it reads
/// again while the last read came back full instead of waiting for the next signal (which
/// here would be the 30 s safety read).
#[tokio::test]
async fn a_burst_larger_than_one_read_reaches_the_timeline_subscriber_at_once() {
    use sea_orm::TransactionTrait;
    use threadline::service::timeline::{self, Audience, EventKind, NewEvent};

    let (url, guard) = fresh_database().await;
    let app = start(&url, false, guard).await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let mut socket = ready(&app, &app.token(&w.owner)).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "t", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    wait_for_registrations(&app, 1).await;

    const BURST: usize = 150;
    let owner = crate::helpers::actor(&w.owner);
    let txn = app.db.begin().await.expect("begin");
    for i in 0..BURST {
        timeline::record(
            &txn,
            &owner,
            NewEvent {
                contact_id: w.contact,
                kind: EventKind::ContactUpdated,
                subject_kind: "Contact",
                subject_id: w.contact,
                summary: format!("Imported change {i}"),
                data: json!({}),
                audience: Audience::Team,
            },
        )
        .await
        .expect("event");
    }
    txn.commit().await.expect("commit");

    for i in 0..BURST {
        let next = receive(&mut socket).await;
        assert_eq!(next["type"], "next", "event {i}: {next}");
        assert_eq!(
            next["payload"]["data"]["timelineEvents"]["summary"],
            format!("Imported change {i}"),
            "{next}"
        );
    }
}

/// The same for the `reminders` subscription: 150 of the caller's reminders fired in one pass
/// all reach it at once.
#[tokio::test]
async fn a_burst_larger_than_one_read_reaches_the_reminders_subscriber_at_once() {
    let (url, guard) = fresh_database().await;
    let app = start(&url, false, guard).await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let mut socket = ready(&app, &owner).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { id status } }" } })).await;
    wait_for_registrations(&app, 1).await;

    let note = app
        .gql(
            Some(&owner),
            "mutation ($c: ID!) { createNote(input: { contactId: $c, subject: \"Renewal\" }) { id } }",
            json!({ "c": contact_id(w.contact) }),
        )
        .await
        .data()["createNote"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let note = threadline::ids::decode(threadline::ids::Kind::Note, &note).expect("note id");
    const BURST: usize = 150;
    let due = chrono::Utc::now() + chrono::Duration::seconds(1);
    for _ in 0..BURST {
        reminders::add(
            &app.db,
            w.owner.organization_id,
            w.owner.id,
            w.contact,
            RemindOf::Note(note),
            due,
        )
        .await
        .expect("reminder");
    }
    // One pass fires them all, in one transaction: one signal.
    let pass = threadline::jobs::FireReminders {
        batch: 1000,
        ..Default::default()
    };
    let fired = pass.run_at(&app.db, due).await.expect("fired");
    assert_eq!(fired.count, BURST);
    let mut seen = std::collections::HashSet::new();
    for i in 0..BURST {
        let next = receive(&mut socket).await;
        assert_eq!(next["type"], "next", "reminder {i}: {next}");
        assert_eq!(next["payload"]["data"]["reminders"]["status"], "FIRED");
        let id = next["payload"]["data"]["reminders"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert!(seen.insert(id), "reminder {i} sent twice: {next}");
    }
}

/// PostgreSQL hands out ids at insert, not at commit: a writer that took id N and committed
/// after the writer of N+1 used to be skipped for good by a subscriber reading `id > last`.
/// The writers of one contact's timeline now take their ids in commit order, so both events
/// reach the subscriber.
#[tokio::test]
async fn events_of_writers_that_commit_out_of_order_all_reach_the_subscriber() {
    use sea_orm::TransactionTrait;
    let (url, guard) = fresh_database().await;
    let app = start(&url, false, guard).await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let owner = app.token(&w.owner);
    let mut socket = ready(&app, &owner).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "t", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    wait_for_registrations(&app, 1).await;

    // The first writer writes its note and holds its transaction open...
    let txn = app.db.begin().await.expect("begin");
    threadline::service::notes::create(
        &txn,
        &crate::helpers::actor(&w.owner),
        threadline::service::notes::CreateNote {
            contact_id: w.contact,
            subject: Some("Held open".into()),
            ..Default::default()
        },
    )
    .await
    .expect("the first note");
    // ...while a second writes and commits through the API (on PostgreSQL it now waits).
    let second = {
        let (address, client, token, cid) = (
            app.address.clone(),
            app.client.clone(),
            owner.clone(),
            cid.clone(),
        );
        tokio::spawn(async move {
            client
                .post(format!("{address}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": "mutation ($c: ID!) { createNote(input: { contactId: $c, subject: \"Committed first\" }) { id } }", "variables": { "c": cid } }))
                .send()
                .await
                .expect("the second note")
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    txn.commit().await.expect("commit");
    assert!(second.await.expect("task").is_success());
    let mut seen = Vec::new();
    for _ in 0..2 {
        let next = receive(&mut socket).await;
        seen.push(
            next["payload"]["data"]["timelineEvents"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(seen.iter().any(|s| s.contains("Held open")), "{seen:?}");
    assert!(
        seen.iter().any(|s| s.contains("Committed first")),
        "{seen:?}"
    );
}

/// The `reminders` subscription reads by `(fired_at, id)`. A firing pass that stamped its
/// `fired_at` first but committed after another gateway's pass (held up writing an event on a
/// busy contact) used to be skipped for good by a subscriber that had already sent the later
/// pass's reminder. Passes now take turns on PostgreSQL and stamp the database's clock once
/// they have their turn: both reminders reach the subscriber. (SQLite has one writer: the
/// passes cannot interleave there, and the test checks that both arrive.)
#[tokio::test]
async fn reminders_of_passes_that_commit_out_of_order_all_reach_the_subscriber() {
    use sea_orm::TransactionTrait;
    let (url, guard) = fresh_database().await;
    let app = start(&url, false, guard).await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let mut socket = ready(&app, &owner).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { id note { subject } } }" } })).await;
    wait_for_registrations(&app, 1).await;

    let mut notes = Vec::new();
    for (contact, subject) in [(w.contact, "Held up"), (w.other_contact, "Committed first")] {
        let id = app
            .gql(
                Some(&owner),
                "mutation ($c: ID!, $s: String!) { createNote(input: { contactId: $c, subject: $s }) { id } }",
                json!({ "c": contact_id(contact), "s": subject }),
            )
            .await
            .data()["createNote"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let note = threadline::ids::decode(threadline::ids::Kind::Note, &id).expect("note id");
        notes.push((contact, note));
    }
    // Ahead of the subscription's start (it sends what fires after it began).
    let first_due = chrono::Utc::now() + chrono::Duration::seconds(1);
    let second_due = first_due + chrono::Duration::seconds(1);
    for ((contact, note), due) in notes.into_iter().zip([first_due, second_due]) {
        reminders::add(
            &app.db,
            w.owner.organization_id,
            w.owner.id,
            contact,
            RemindOf::Note(note),
            due,
        )
        .await
        .expect("reminder");
    }

    // Another writer holds the first contact's timeline (its per-contact lock)...
    let busy = app.db.begin().await.expect("begin");
    threadline::bus::order(&busy, threadline::bus::Stream::Contact(w.contact))
        .await
        .expect("the contact's lock");
    // ...so the first pass marks its reminder fired and waits to write its event...
    let first = {
        let db = app.db.clone();
        tokio::spawn(async move { reminders::fire_due(&db, first_due, 100).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...while a second pass fires the other contact's reminder (it used to commit first).
    let second = {
        let db = app.db.clone();
        tokio::spawn(async move { reminders::fire_due(&db, second_due, 100).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    busy.commit().await.expect("commit");
    assert_eq!(first.await.expect("task").expect("the first pass").len(), 1);
    assert_eq!(
        second.await.expect("task").expect("the second pass").len(),
        1
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        let next = receive(&mut socket).await;
        seen.push(
            next["payload"]["data"]["reminders"]["note"]["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    seen.sort();
    assert_eq!(seen, ["Committed first", "Held up"]);
}
