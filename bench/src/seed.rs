//! Generates a dataset at a [`Scale`] with a fixed seed, straight into the database (multi-row
//! `INSERT`s, one transaction per organization), after the gateway's own migrations: the
//! schema is the real one, and nothing goes through the API.
//!
//! What one organization holds (each count from the scale):
//!
//! - staff: an owner, admins and members; a member holds a grant (70% `WRITE`, 30% `READ`) on
//!   a random 10% of the contacts and on 3 of the channels;
//! - contacts with one or two email addresses (and a phone number for 70%), a consultant for
//!   half, a label for a fifth, 3% archived; created over the first year of two;
//! - notes (85% `TEAM`, 10% `PRIVATE`, 5% `CUSTOMER`) and tasks by staff who may write to the
//!   contact, labels on 30% of the notes, tags on 20% of the tasks;
//! - conversations of a contact on a channel, and messages over them (55% inbound), with the
//!   read state of each member for 60% of the conversations they see (the owner's for half);
//! - the timeline: an event per contact (`CONTACT_CREATED`), note, task and (as many as the
//!   scale's event count leaves) message, each with the audience the gateway would give it.
//!
//! Ids follow time (a table's rows are numbered in the order they happened), as they do when
//! the gateway writes them; on PostgreSQL the identity sequences are moved past them.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

use crate::{
    rng::Rng,
    scale::Scale,
    sql::{Inserter, boolean, opt_id, opt_text, opt_ts, text, ts},
    words::{self, DOMAINS, FIRST_NAMES, LAST_NAMES},
};

/// The dataset's clock starts here (2024-01-01T00:00:00Z)...
pub const START: i64 = 1_704_067_200;
/// ...and ends two years later: every generated row happened in between.
pub const END: i64 = START + 2 * 365 * 86_400;

/// The instance setting that names the dataset a database holds (`{"scale":..,"seed":..}`).
pub const SETTING: &str = "bench.dataset";

/// The tables the generator fills, in the order their rows are written (references first).
pub const TABLES: [&str; 20] = [
    "organizations",
    "users",
    "channels",
    "labels",
    "task_types",
    "contacts",
    "contact_emails",
    "contact_phones",
    "contact_labels",
    "contact_collaborators",
    "channel_collaborators",
    "notes",
    "note_labels",
    "tasks",
    "task_tags",
    "conversations",
    "messages",
    "conversation_reads",
    "timeline_events",
    "instance_settings",
];

/// What [`seed`] wrote.
#[derive(Debug)]
pub struct Seeded {
    /// Rows written, by table.
    pub rows: Vec<(&'static str, u64)>,
    /// How long it took (migrations, rows, statistics).
    pub elapsed: Duration,
}

/// The next row id of each table (ids run on across organizations).
#[derive(Default)]
struct Ids {
    user: i64,
    contact: i64,
    email: i64,
    phone: i64,
    grant: i64,
    channel: i64,
    channel_grant: i64,
    label: i64,
    task_type: i64,
    note: i64,
    task: i64,
    conversation: i64,
    message: i64,
    event: i64,
}

fn next(id: &mut i64) -> i64 {
    *id += 1;
    *id
}

/// A staff user as the generator knows them.
struct Staff {
    id: i64,
    name: String,
}

struct Contact {
    id: i64,
    name: String,
    created: i64,
}

struct Note {
    at: i64,
    contact: usize,
    author: usize,
    visibility: &'static str,
    subject: Option<String>,
    body: String,
    type_id: Option<i64>,
}

struct Task {
    at: i64,
    contact: usize,
    creator: usize,
    responsible: usize,
    description: String,
    type_id: Option<i64>,
    scheduled: i64,
    done: bool,
}

struct Message {
    at: i64,
    conversation: usize,
    inbound: bool,
    author: usize,
    body: String,
}

struct Event {
    at: i64,
    contact: i64,
    kind: &'static str,
    actor: i64,
    subject_kind: &'static str,
    subject_id: i64,
    summary: String,
    audience: &'static str,
    audience_user: Option<i64>,
    audience_channel: Option<i64>,
    data: String,
}

/// A short title, as the gateway's `title_of` makes one.
fn title(subject: Option<&str>, body: &str) -> String {
    let text = subject.filter(|s| !s.is_empty()).unwrap_or(body);
    let mut t: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        t.push('…');
    }
    t
}

/// Migrates `db` and fills it with the dataset of `scale` for `seed`. Refuses a database that
/// already holds an organization (a dataset is generated once, into an empty database).
pub async fn seed(db: &DatabaseConnection, scale: Scale, seed: u64) -> anyhow::Result<Seeded> {
    scale.check().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    threadline::db::migrate(db).await?;
    let backend = db.get_database_backend();
    let existing = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM organizations",
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if existing > 0 {
        anyhow::bail!(
            "the database already holds {existing} organization(s): generate a dataset into an empty database"
        );
    }
    let mut ids = Ids::default();
    let mut rows: Vec<(&'static str, u64)> = TABLES.iter().map(|t| (*t, 0)).collect();
    for org in 0..scale.organizations {
        let txn = db.begin().await?;
        let written = seed_org(&txn, &scale, seed, org, &mut ids).await?;
        txn.commit().await?;
        for (table, n) in written {
            if let Some(slot) = rows.iter_mut().find(|(t, _)| *t == table) {
                slot.1 += n;
            }
        }
    }
    let value = serde_json::json!({ "scale": scale.name, "seed": seed }).to_string();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            DbBackend::Postgres => "INSERT INTO instance_settings (key, value) VALUES ($1, $2)",
            _ => "INSERT INTO instance_settings (key, value) VALUES (?, ?)",
        },
        [Value::from(SETTING), Value::from(value)],
    ))
    .await?;
    if let Some(slot) = rows.iter_mut().find(|(t, _)| *t == "instance_settings") {
        slot.1 += 1;
    }
    finish(db).await?;
    Ok(Seeded {
        rows,
        elapsed: started.elapsed(),
    })
}

/// Moves PostgreSQL's identity sequences past the generated ids (the gateway's inserts take
/// the next ones), and gathers the planner's statistics as a database in use would have them.
async fn finish(db: &DatabaseConnection) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            for table in TABLES {
                if matches!(
                    table,
                    "contact_labels"
                        | "note_labels"
                        | "task_tags"
                        | "conversation_reads"
                        | "instance_settings"
                ) {
                    continue;
                }
                db.execute_unprepared(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                ))
                .await?;
            }
            // Autovacuum would get there in its own time; the benchmark should not wait.
            db.execute_unprepared("VACUUM ANALYZE").await?;
        }
        _ => {
            db.execute_unprepared("ANALYZE").await?;
        }
    }
    Ok(())
}

/// Writes organization number `org` (from 0) on the transaction `db`; returns rows by table.
async fn seed_org<C: ConnectionTrait>(
    db: &C,
    scale: &Scale,
    seed: u64,
    org: usize,
    ids: &mut Ids,
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    // One generator per kind of row, so that changing how one table is drawn leaves the
    // others as they were.
    let stream = |n: u64| Rng::new(seed, ((org as u64) << 8) | n);
    let mut written = Vec::new();
    let org_no = org + 1;

    // The organization.
    let org_id = i64::try_from(org_no)?;
    let mut ins = Inserter::new(db, "organizations", "id, name, created_at");
    ins.row(&format!(
        "{org_id}, {}, {}",
        text(&format!("Bench {org_no}")),
        ts(START)
    ))
    .await?;
    written.push(("organizations", ins.finish().await?));

    // Staff: index 0 the owner, then the admins, then the members.
    let mut rng = stream(1);
    let mut staff = Vec::with_capacity(scale.staff);
    let mut ins = Inserter::new(
        db,
        "users",
        "id, organization_id, email, name, kind, role, active, created_at, updated_at",
    );
    for i in 0..scale.staff {
        let id = next(&mut ids.user);
        let (role, email) = if i == 0 {
            ("OWNER", format!("owner@org{org_no}.bench.test"))
        } else if i <= scale.admins {
            ("ADMIN", format!("admin{i}@org{org_no}.bench.test"))
        } else {
            ("MEMBER", format!("member{i}@org{org_no}.bench.test"))
        };
        let name = format!("{} {}", rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES));
        let at = ts(START);
        ins.row(&format!(
            "{id}, {org_id}, {}, {}, 'STAFF', '{role}', TRUE, {at}, {at}",
            text(&email),
            text(&name),
        ))
        .await?;
        staff.push(Staff { id, name });
    }
    written.push(("users", ins.finish().await?));
    let members: Vec<usize> = (1 + scale.admins..scale.staff).collect();

    // Channels: phones and mailboxes, half each.
    let mut ins = Inserter::new(
        db,
        "channels",
        "id, organization_id, kind, address, display_name, created_at, updated_at",
    );
    let mut channels = Vec::with_capacity(scale.channels);
    for i in 0..scale.channels {
        let id = next(&mut ids.channel);
        let (kind, address, name) = if i % 2 == 0 {
            (
                "PHONE",
                format!("+1415{org_no:03}{i:04}"),
                format!("Line {}", i / 2 + 1),
            )
        } else {
            (
                "EMAIL",
                format!("desk{i}@org{org_no}.bench.test"),
                format!("Desk {}", i / 2 + 1),
            )
        };
        ins.row(&format!(
            "{id}, {org_id}, '{kind}', {}, {}, {2}, {2}",
            text(&address),
            text(&name),
            ts(START),
        ))
        .await?;
        channels.push((id, name));
    }
    written.push(("channels", ins.finish().await?));

    // Labels and task types.
    let mut ins = Inserter::new(db, "labels", "id, organization_id, name, color, created_at");
    let mut labels = Vec::with_capacity(scale.labels);
    for i in 0..scale.labels {
        let id = next(&mut ids.label);
        ins.row(&format!(
            "{id}, {org_id}, {}, '#{:06x}', {}",
            text(&format!("{} {}", words::word(i), i + 1)),
            (i * 0x0a3f17) % 0xff_ffff,
            ts(START)
        ))
        .await?;
        labels.push(id);
    }
    written.push(("labels", ins.finish().await?));
    let mut ins = Inserter::new(db, "task_types", "id, organization_id, name, created_at");
    let mut task_types = Vec::with_capacity(scale.task_types);
    for i in 0..scale.task_types {
        let id = next(&mut ids.task_type);
        let name = ["Call", "Meeting", "Email", "Visit", "Follow-up"][i % 5];
        let name = if i < 5 {
            name.to_owned()
        } else {
            format!("{name} {i}")
        };
        ins.row(&format!("{id}, {org_id}, {}, {}", text(&name), ts(START)))
            .await?;
        task_types.push(id);
    }
    written.push(("task_types", ins.finish().await?));

    // Contacts, created over the first year.
    let mut rng = stream(2);
    let mut contacts = Vec::with_capacity(scale.contacts);
    let mut ins = Inserter::new(
        db,
        "contacts",
        "id, organization_id, name, consultant_id, custom_fields, archived, archived_at, \
         created_by, created_at, updated_at",
    );
    let mut emails = Inserter::after_parents(
        db,
        "contact_emails",
        "id, organization_id, contact_id, position, email, label, is_primary",
    );
    let mut phones = Inserter::after_parents(
        db,
        "contact_phones",
        "id, organization_id, contact_id, position, number, label, is_primary",
    );
    let mut contact_labels = Inserter::after_parents(
        db,
        "contact_labels",
        "contact_id, label_id, organization_id",
    );
    for i in 0..scale.contacts {
        let id = next(&mut ids.contact);
        let first = *rng.pick(&FIRST_NAMES);
        let last = *rng.pick(&LAST_NAMES);
        let name = format!("{first} {last}");
        let created = rng.range(START, START + 365 * 86_400);
        let consultant = rng.chance(0.5).then(|| staff[rng.below(staff.len())].id);
        let custom = if rng.chance(0.3) {
            format!(
                r#"{{"tier":"{}","source":"{}"}}"#,
                ["gold", "silver", "bronze"][rng.below(3)],
                ["web", "referral", "event", "import"][rng.below(4)]
            )
        } else {
            "{}".to_owned()
        };
        let archived = rng.chance(0.03);
        ins.row(&format!(
            "{id}, {org_id}, {}, {}, {}, {}, {}, {}, {6}, {6}",
            text(&name),
            opt_id(consultant),
            text(&custom),
            boolean(archived),
            opt_ts(archived.then_some(created + 86_400)),
            staff[0].id,
            ts(created),
        ))
        .await?;
        let domain = rng.pick(&DOMAINS);
        let addresses = if rng.chance(0.2) { 2 } else { 1 };
        for position in 0..addresses {
            let email = format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                if position == 0 {
                    String::new()
                } else {
                    format!(".{i}")
                },
                if position == 0 { domain } else { "home.test" }
            );
            emails
                .row(&format!(
                    "{}, {org_id}, {id}, {position}, {}, {}, {}",
                    next(&mut ids.email),
                    text(&email),
                    opt_text((position == 1).then_some("home")),
                    boolean(position == 0)
                ))
                .await?;
        }
        if rng.chance(0.7) {
            let number = format!("+1{}{:07}", 200 + rng.below(700), rng.below(10_000_000));
            phones
                .row(&format!(
                    "{}, {org_id}, {id}, 0, {}, 'work', TRUE",
                    next(&mut ids.phone),
                    text(&number)
                ))
                .await?;
        }
        if rng.chance(0.2) {
            contact_labels
                .row(&format!("{id}, {}, {org_id}", rng.pick(&labels)))
                .await?;
        }
        contacts.push(Contact { id, name, created });
    }
    written.push(("contacts", ins.finish().await?));
    written.push(("contact_emails", emails.finish().await?));
    written.push(("contact_phones", phones.finish().await?));
    written.push(("contact_labels", contact_labels.finish().await?));

    // Grants: each member on a random share of the contacts and on a few channels. `sees`
    // and `on_channel` are the members' views; `writers` who may write to each contact.
    let mut rng = stream(3);
    let mut writers: Vec<Vec<usize>> = vec![(0..=scale.admins).collect(); scale.contacts];
    let mut sees: Vec<Vec<bool>> = vec![vec![false; scale.contacts]; scale.staff];
    let mut on_channel: Vec<Vec<bool>> = vec![vec![false; scale.channels]; scale.staff];
    let mut ins = Inserter::new(
        db,
        "contact_collaborators",
        "id, organization_id, contact_id, user_id, access, granted_by, granted_at",
    );
    for &m in &members {
        for c in rng.sample(scale.contacts, scale.member_contacts()) {
            let write = rng.chance(0.7);
            ins.row(&format!(
                "{}, {org_id}, {}, {}, '{}', {}, {}",
                next(&mut ids.grant),
                contacts[c].id,
                staff[m].id,
                if write { "WRITE" } else { "READ" },
                staff[0].id,
                ts(contacts[c].created)
            ))
            .await?;
            sees[m][c] = true;
            if write {
                writers[c].push(m);
            }
        }
    }
    written.push(("contact_collaborators", ins.finish().await?));
    let mut ins = Inserter::new(
        db,
        "channel_collaborators",
        "id, organization_id, channel_id, user_id, access, granted_by, granted_at",
    );
    for &m in &members {
        for ch in rng.sample(scale.channels, scale.member_channels) {
            ins.row(&format!(
                "{}, {org_id}, {}, {}, 'WRITE', {}, {}",
                next(&mut ids.channel_grant),
                channels[ch].0,
                staff[m].id,
                staff[0].id,
                ts(START)
            ))
            .await?;
            on_channel[m][ch] = true;
        }
    }
    written.push(("channel_collaborators", ins.finish().await?));
    for s in 0..=scale.admins {
        sees[s].iter_mut().for_each(|v| *v = true);
        on_channel[s].iter_mut().for_each(|v| *v = true);
    }

    let mut events: Vec<Event> = Vec::with_capacity(scale.events);
    for c in &contacts {
        events.push(Event {
            at: c.created,
            contact: c.id,
            kind: "CONTACT_CREATED",
            actor: staff[0].id,
            subject_kind: "Contact",
            subject_id: c.id,
            summary: format!("{} created the contact {}", staff[0].name, c.name),
            audience: "TEAM",
            audience_user: None,
            audience_channel: None,
            data: "{}".to_owned(),
        });
    }

    // Notes, by staff who may write to the contact, after the contact was created.
    let mut rng = stream(4);
    let mut notes: Vec<Note> = (0..scale.notes)
        .map(|_| {
            let contact = rng.below(scale.contacts);
            let created = contacts[contact].created;
            let author = *rng.pick(&writers[contact]);
            let visibility = match rng.below(20) {
                0 => "CUSTOMER",
                1 | 2 => "PRIVATE",
                _ => "TEAM",
            };
            let subject = rng.chance(0.8).then(|| words::sentence(&mut rng, 3, 7));
            let body = words::sentence(&mut rng, 10, 41);
            let type_id = rng.chance(0.3).then(|| *rng.pick(&task_types));
            Note {
                at: rng.range(created, END),
                contact,
                author,
                visibility,
                subject,
                body,
                type_id,
            }
        })
        .collect();
    notes.sort_by_key(|n| n.at);
    let mut ins = Inserter::new(
        db,
        "notes",
        "id, organization_id, contact_id, author_id, subject, body, visibility, type_id, \
         created_at, updated_at",
    );
    let mut note_labels =
        Inserter::after_parents(db, "note_labels", "note_id, label_id, organization_id");
    for n in &notes {
        let id = next(&mut ids.note);
        let contact = &contacts[n.contact];
        let author = &staff[n.author];
        ins.row(&format!(
            "{id}, {org_id}, {}, {}, {}, {}, '{}', {}, {6}, {6}",
            contact.id,
            author.id,
            opt_text(n.subject.as_deref()),
            text(&n.body),
            n.visibility,
            opt_id(n.type_id),
            ts(n.at)
        ))
        .await?;
        if rng.chance(0.3) {
            let count = if rng.chance(0.3) { 2 } else { 1 };
            for l in rng.sample(labels.len(), count) {
                note_labels
                    .row(&format!("{id}, {}, {org_id}", labels[l]))
                    .await?;
            }
        }
        let (audience, audience_user) = match n.visibility {
            "PRIVATE" => ("PRIVATE", Some(author.id)),
            "CUSTOMER" => ("CUSTOMER", None),
            _ => ("TEAM", None),
        };
        events.push(Event {
            at: n.at,
            contact: contact.id,
            kind: "NOTE_CREATED",
            actor: author.id,
            subject_kind: "Note",
            subject_id: id,
            summary: format!(
                "{} added a note: {}",
                author.name,
                title(n.subject.as_deref(), &n.body)
            ),
            audience,
            audience_user,
            audience_channel: None,
            data: "{}".to_owned(),
        });
    }
    written.push(("notes", ins.finish().await?));
    written.push(("note_labels", note_labels.finish().await?));
    drop(notes);

    // Tasks: most of those scheduled more than a month before the end are done.
    let mut rng = stream(5);
    let mut tasks: Vec<Task> = (0..scale.tasks)
        .map(|_| {
            let contact = rng.below(scale.contacts);
            let at = rng.range(contacts[contact].created, END);
            let scheduled = at + rng.range(0, 30 * 86_400);
            Task {
                at,
                contact,
                creator: *rng.pick(&writers[contact]),
                responsible: *rng.pick(&writers[contact]),
                description: words::sentence(&mut rng, 4, 11),
                type_id: rng.chance(0.5).then(|| *rng.pick(&task_types)),
                scheduled,
                done: scheduled < END - 30 * 86_400 && rng.chance(0.7),
            }
        })
        .collect();
    tasks.sort_by_key(|t| t.at);
    let mut ins = Inserter::new(
        db,
        "tasks",
        "id, organization_id, contact_id, description, type_id, scheduled_at, responsible_id, \
         creator_id, status, completed_at, completed_by, created_at, updated_at",
    );
    let mut tags = Inserter::after_parents(db, "task_tags", "task_id, organization_id, tag");
    for t in &tasks {
        let id = next(&mut ids.task);
        let contact = &contacts[t.contact];
        let (creator, responsible) = (&staff[t.creator], &staff[t.responsible]);
        ins.row(&format!(
            "{id}, {org_id}, {}, {}, {}, {}, {}, {}, '{}', {}, {}, {9}, {9}",
            contact.id,
            text(&t.description),
            opt_id(t.type_id),
            ts(t.scheduled),
            responsible.id,
            creator.id,
            if t.done { "DONE" } else { "PLANNED" },
            opt_ts(t.done.then_some(t.scheduled)),
            opt_id(t.done.then_some(responsible.id)),
            ts(t.at)
        ))
        .await?;
        if rng.chance(0.2) {
            let tag = ["urgent", "renewal", "billing", "onboarding", "vip"][rng.below(5)];
            tags.row(&format!("{id}, {org_id}, '{tag}'")).await?;
        }
        events.push(Event {
            at: t.at,
            contact: contact.id,
            kind: "TASK_CREATED",
            actor: creator.id,
            subject_kind: "Task",
            subject_id: id,
            summary: format!(
                "{} planned a task: {}",
                creator.name,
                title(None, &t.description)
            ),
            audience: "TEAM",
            audience_user: None,
            audience_channel: None,
            data: format!(r#"{{"responsibleId":{}}}"#, responsible.id),
        });
    }
    written.push(("tasks", ins.finish().await?));
    written.push(("task_tags", tags.finish().await?));
    drop(tasks);

    // Conversations: contact i on distinct random channels, round robin over the contacts.
    let mut rng = stream(6);
    let mut conversations: Vec<(usize, usize)> = Vec::with_capacity(scale.conversations);
    let mut used: Vec<Vec<usize>> = vec![Vec::new(); scale.contacts];
    for i in 0..scale.conversations {
        let contact = i % scale.contacts;
        let free: Vec<usize> = (0..scale.channels)
            .filter(|ch| !used[contact].contains(ch))
            .collect();
        let channel = *rng.pick(&free);
        used[contact].push(channel);
        conversations.push((contact, channel));
    }
    drop(used);
    // Messages: every conversation gets one, the rest fall at random; numbered by time.
    let mut messages: Vec<Message> = (0..scale.messages)
        .map(|i| {
            let conversation = if i < scale.conversations {
                i
            } else {
                rng.below(scale.conversations)
            };
            let contact = conversations[conversation].0;
            let inbound = rng.chance(0.55);
            Message {
                at: rng.range(contacts[contact].created, END),
                conversation,
                inbound,
                author: *rng.pick(&writers[contact]),
                body: words::sentence(&mut rng, 5, 21),
            }
        })
        .collect();
    messages.sort_by_key(|m| m.at);
    let first_id = ids.message + 1;
    // Per conversation: its message ids and times, oldest first.
    let mut thread: Vec<Vec<(i64, i64)>> = vec![Vec::new(); scale.conversations];
    for (i, m) in messages.iter().enumerate() {
        thread[m.conversation].push((first_id + i as i64, m.at));
    }
    let mut ins = Inserter::new(
        db,
        "conversations",
        "id, organization_id, contact_id, channel_id, last_message_id, last_message_at, created_at",
    );
    let conversation_ids: Vec<i64> = (0..scale.conversations)
        .map(|_| next(&mut ids.conversation))
        .collect();
    for (i, &(contact, channel)) in conversations.iter().enumerate() {
        let (first, last) = (thread[i][0], thread[i][thread[i].len() - 1]);
        ins.row(&format!(
            "{}, {org_id}, {}, {}, {}, {}, {}",
            conversation_ids[i],
            contacts[contact].id,
            channels[channel].0,
            last.0,
            ts(last.1),
            ts(first.1)
        ))
        .await?;
    }
    written.push(("conversations", ins.finish().await?));
    let with_event = {
        let mut marks = vec![false; messages.len()];
        for i in rng.sample(messages.len(), scale.message_events()) {
            marks[i] = true;
        }
        marks
    };
    let mut ins = Inserter::new(
        db,
        "messages",
        "id, organization_id, conversation_id, direction, body, author_id, sent_at, status, \
         created_at, updated_at",
    );
    for (i, m) in messages.iter().enumerate() {
        let id = next(&mut ids.message);
        let (contact, channel) = conversations[m.conversation];
        let author = (!m.inbound).then(|| staff[m.author].id);
        let conversation = conversation_ids[m.conversation];
        let direction = if m.inbound { "INBOUND" } else { "OUTBOUND" };
        let body = text(&m.body);
        let author = opt_id(author);
        let at = ts(m.at);
        let status = if m.inbound || rng.chance(0.9) {
            "DELIVERED"
        } else {
            "READ"
        };
        ins.row(&format!(
            "{id}, {org_id}, {conversation}, '{direction}', {body}, {author}, {at}, '{status}', \
             {at}, {at}"
        ))
        .await?;
        if with_event[i] {
            let (channel_id, channel_name) = &channels[channel];
            let contact = &contacts[contact];
            let (kind, actor, summary) = if m.inbound {
                (
                    "MESSAGE_RECEIVED",
                    &staff[0],
                    format!(
                        "{} wrote via {channel_name}: {}",
                        contact.name,
                        title(None, &m.body)
                    ),
                )
            } else {
                let author = &staff[m.author];
                (
                    "MESSAGE_SENT",
                    author,
                    format!(
                        "{} sent {} a message via {channel_name}: {}",
                        author.name,
                        contact.name,
                        title(None, &m.body)
                    ),
                )
            };
            events.push(Event {
                at: m.at,
                contact: contact.id,
                kind,
                actor: actor.id,
                subject_kind: "Message",
                subject_id: id,
                summary,
                audience: "CHANNEL",
                audience_user: None,
                audience_channel: Some(*channel_id),
                data: format!(r#"{{"channelId":{channel_id}}}"#),
            });
        }
    }
    written.push(("messages", ins.finish().await?));
    drop(messages);

    // Read state: each member for 60% of the conversations they see, the owner for half.
    let mut rng = stream(7);
    let mut ins = Inserter::new(
        db,
        "conversation_reads",
        "conversation_id, user_id, organization_id, last_read_message_id, read_at",
    );
    let readers: Vec<(usize, f64)> = std::iter::once((0, 0.5))
        .chain(members.iter().map(|&m| (m, 0.6)))
        .collect();
    for (s, share) in readers {
        for (i, &(contact, channel)) in conversations.iter().enumerate() {
            if !(sees[s][contact] && on_channel[s][channel] && rng.chance(share)) {
                continue;
            }
            let t = &thread[i];
            let read = if rng.chance(0.5) {
                t[t.len() - 1]
            } else {
                t[rng.below(t.len())]
            };
            ins.row(&format!(
                "{}, {}, {org_id}, {}, {}",
                conversation_ids[i],
                staff[s].id,
                read.0,
                ts(read.1)
            ))
            .await?;
        }
    }
    written.push(("conversation_reads", ins.finish().await?));

    // The timeline, numbered by time.
    events.sort_by_key(|e| e.at);
    let mut ins = Inserter::new(
        db,
        "timeline_events",
        "id, organization_id, contact_id, occurred_at, kind, actor_id, subject_kind, subject_id, \
         summary, data, audience, audience_user_id, audience_channel_id",
    );
    for e in &events {
        ins.row(&format!(
            "{}, {org_id}, {}, {}, '{}', {}, '{}', {}, {}, {}, '{}', {}, {}",
            next(&mut ids.event),
            e.contact,
            ts(e.at),
            e.kind,
            e.actor,
            e.subject_kind,
            e.subject_id,
            text(&e.summary),
            text(&e.data),
            e.audience,
            opt_id(e.audience_user),
            opt_id(e.audience_channel)
        ))
        .await?;
    }
    written.push(("timeline_events", ins.finish().await?));
    Ok(written)
}
