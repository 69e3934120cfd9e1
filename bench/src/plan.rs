//! What the load driver knows of a generated dataset, read back from the database: each
//! organization's owner, its members with the contacts they may see and write to, its contacts
//! and its labels. Requests draw their variables from it.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

/// A user the driver acts as.
#[derive(Clone, Debug)]
pub struct User {
    /// The user's row id.
    pub id: i64,
    /// The organization's row id.
    pub org_id: i64,
}

/// A member and what their grants let them see.
#[derive(Clone, Debug)]
pub struct Member {
    /// The member.
    pub user: User,
    /// The contacts they hold a grant on.
    pub visible: Vec<i64>,
    /// Those they hold `WRITE` (or `ADMIN`) on.
    pub writable: Vec<i64>,
}

/// One organization of the dataset.
#[derive(Clone, Debug)]
pub struct Org {
    /// The owner.
    pub owner: User,
    /// The members with at least one visible contact (and one writable, for writes).
    pub members: Vec<Member>,
    /// Every contact.
    pub contacts: Vec<i64>,
    /// Every label.
    pub labels: Vec<i64>,
}

/// The dataset as the driver draws from it.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The organizations that have an owner, a member and a label.
    pub orgs: Vec<Org>,
    /// The dataset's name as the generator recorded it (`{"scale":"standard","seed":1}`).
    pub dataset: Option<String>,
}

async fn rows(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    Ok(db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?)
}

impl Plan {
    /// Reads the plan of the dataset in `db`; fails when no organization has what the
    /// workloads need (an owner, a member who sees a contact, a label).
    pub async fn load(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let mut orgs: HashMap<i64, Org> = HashMap::new();
        let mut members: HashMap<i64, Member> = HashMap::new();
        for row in rows(
            db,
            "SELECT id, organization_id, role FROM users WHERE kind = 'STAFF' AND active = TRUE ORDER BY id",
        )
        .await?
        {
            let id: i64 = row.try_get_by_index(0)?;
            let org_id: i64 = row.try_get_by_index(1)?;
            let role: String = row.try_get_by_index(2)?;
            let user = User { id, org_id };
            match role.as_str() {
                "OWNER" => {
                    orgs.entry(org_id).or_insert_with(|| Org {
                        owner: user,
                        members: Vec::new(),
                        contacts: Vec::new(),
                        labels: Vec::new(),
                    });
                }
                "MEMBER" => {
                    members.insert(
                        id,
                        Member {
                            user,
                            visible: Vec::new(),
                            writable: Vec::new(),
                        },
                    );
                }
                _ => {}
            }
        }
        for row in rows(db, "SELECT id, organization_id FROM contacts ORDER BY id").await? {
            let (id, org): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            if let Some(o) = orgs.get_mut(&org) {
                o.contacts.push(id);
            }
        }
        for row in rows(db, "SELECT id, organization_id FROM labels ORDER BY id").await? {
            let (id, org): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            if let Some(o) = orgs.get_mut(&org) {
                o.labels.push(id);
            }
        }
        for row in rows(
            db,
            "SELECT user_id, contact_id, access FROM contact_collaborators ORDER BY id",
        )
        .await?
        {
            let (user, contact): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            let access: String = row.try_get_by_index(2)?;
            if let Some(m) = members.get_mut(&user) {
                m.visible.push(contact);
                if access != "READ" {
                    m.writable.push(contact);
                }
            }
        }
        let mut members: Vec<Member> = members.into_values().collect();
        members.sort_by_key(|m| m.user.id);
        for m in members {
            if !m.writable.is_empty()
                && let Some(o) = orgs.get_mut(&m.user.org_id)
            {
                o.members.push(m);
            }
        }
        let mut orgs: Vec<Org> = orgs
            .into_values()
            .filter(|o| !o.members.is_empty() && !o.labels.is_empty() && !o.contacts.is_empty())
            .collect();
        orgs.sort_by_key(|o| o.owner.org_id);
        if orgs.is_empty() {
            anyhow::bail!(
                "no organization with an owner, a member who may write to a contact and a label: \
                 generate a dataset first (threadline-bench seed)"
            );
        }
        let dataset = rows(
            db,
            "SELECT value FROM instance_settings WHERE key = 'bench.dataset'",
        )
        .await?
        .first()
        .and_then(|r| r.try_get_by_index::<String>(0).ok());
        Ok(Self { orgs, dataset })
    }

    /// Every user the workloads act as (owners and members).
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.orgs
            .iter()
            .flat_map(|o| std::iter::once(&o.owner).chain(o.members.iter().map(|m| &m.user)))
    }
}

/// The newest row ids of the tables a write workload adds to, taken before it runs, so that
/// [`Marks::restore`] can remove what it wrote and the next run meets the dataset as generated.
#[derive(Clone, Debug)]
pub struct Marks(Vec<(&'static str, &'static str, i64)>);

/// The tables W5 writes to, with the column that grows with each new row, children first.
const WRITTEN: [(&str, &str, &str); 7] = [
    ("timeline_events", "id", "timeline_events"),
    ("notifications", "id", "notifications"),
    ("reminders", "id", "reminders"),
    ("task_tags", "task_id", "tasks"),
    ("tasks", "id", "tasks"),
    ("note_labels", "note_id", "notes"),
    ("notes", "id", "notes"),
];

impl Marks {
    /// Reads the newest ids now.
    pub async fn take(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let mut marks = Vec::new();
        for (table, column, parent) in WRITTEN {
            let max = rows(db, &format!("SELECT COALESCE(MAX(id), 0) FROM {parent}"))
                .await?
                .first()
                .map(|r| r.try_get_by_index::<i64>(0))
                .transpose()?
                .unwrap_or(0);
            marks.push((table, column, max));
        }
        Ok(Self(marks))
    }

    /// Deletes every row newer than the marks (children first); returns how many.
    ///
    /// The foreign-key checks are off while it runs: deleting a task or a note makes the
    /// database look for rows that point at it through columns without an index (`tasks.note_id`,
    /// `tasks.copied_from_id`...), a full scan per deleted row, hours for a long W5 run. Only
    /// rows the run wrote are deleted, and nothing older points at them. On PostgreSQL that
    /// takes a superuser (`session_replication_role`); without one the rows stay, with a note.
    pub async fn restore(&self, db: &DatabaseConnection) -> anyhow::Result<u64> {
        let mut removed = 0;
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let txn = db.begin().await?;
                if let Err(e) = txn
                    .execute_unprepared("SET LOCAL session_replication_role = replica")
                    .await
                {
                    eprintln!(
                        "note: the rows W5 wrote stay in the database ({e}); generate the \
                         dataset again before a run that must start from it"
                    );
                    return Ok(0);
                }
                for (table, column, max) in &self.0 {
                    removed += txn
                        .execute_unprepared(&format!("DELETE FROM {table} WHERE {column} > {max}"))
                        .await?
                        .rows_affected();
                }
                txn.commit().await?;
            }
            _ => {
                // A pragma, so outside the transaction, on the pool's one SQLite connection.
                db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
                let deleted = async {
                    let txn = db.begin().await?;
                    let mut n = 0;
                    for (table, column, max) in &self.0 {
                        n += txn
                            .execute_unprepared(&format!(
                                "DELETE FROM {table} WHERE {column} > {max}"
                            ))
                            .await?
                            .rows_affected();
                    }
                    txn.commit().await?;
                    Ok::<u64, sea_orm::DbErr>(n)
                }
                .await;
                db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
                removed += deleted?;
            }
        }
        Ok(removed)
    }
}
