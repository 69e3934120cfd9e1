//! Attachments: files on notes, stored content-addressed under the data directory
//! (`attachments/ab/abcdef...`, named by their SHA-256), so the same file uploaded twice is
//! kept once, and served only to callers who may see the note.
//!
//! Callers check the caller's rights before storing anything. The file is written before the
//! database transaction that records it; when that transaction fails, [`discard`] removes the
//! files this request put in storage that no attachment row names (a file another row shares is
//! kept). A concurrent upload of the same content touches the file, and a file touched since
//! this request wrote it is left alone, since that other request may be about to record it.
//! Files of a request that never finished (the client went away, the process stopped) are
//! removed by [`sweep`], which the gateway runs in the background every
//! `THREADLINE_ATTACHMENT_SWEEP_SECS` (default an hour): stored files that no attachment row
//! names and that have not changed for `THREADLINE_ATTACHMENT_SWEEP_GRACE_SECS` (default an
//! hour; an upload of the same content touches the file, so a recent change means the file may
//! be about to be recorded), and stale temporary files.
//! Each organization has an upload quota (`THREADLINE_ORG_UPLOAD_QUOTA_BYTES`, the sum of its
//! attachments' sizes), checked while the files stream in and again, under a lock on the
//! organization's row on PostgreSQL, in the transaction that records them.
//!
//! Dependencies run one way: notes call down into this module to record a note's files; whether
//! the caller may see or change a note, this module asks [`access`], never notes.

use std::{
    collections::HashSet,
    io::{Read, Write},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use entity::attachment;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionSession, TransactionTrait,
};
use sha2::{Digest, Sha256};

pub use super::children::attachments_of as of_notes;
use super::{access, now, sql::Sql};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// Where attachment files live and how large one may be.
#[derive(Clone, Debug)]
pub struct Storage {
    /// The data directory (`THREADLINE_DATA_DIR`).
    pub dir: PathBuf,
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Most bytes of attachments one organization may keep (`THREADLINE_ORG_UPLOAD_QUOTA_BYTES`).
    pub org_quota_bytes: u64,
}

/// A file written to storage, ready to be recorded on a note.
#[derive(Clone, Debug)]
pub struct StoredFile {
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The uploaded file name, made safe.
    pub filename: String,
    /// The content type, checked for shape.
    pub content_type: String,
    /// Whether this upload put the file in storage (false when the same content was there
    /// already); only such files are candidates for [`discard`].
    pub created: bool,
    /// The file's modification time when this upload created it. Another upload of the same
    /// content touches the file, so [`discard`] can tell the file has been claimed since.
    pub written_at: Option<std::time::SystemTime>,
}

impl Storage {
    /// The path of the file with this hash.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir
            .join("attachments")
            .join(&sha256[..2.min(sha256.len())])
            .join(sha256)
    }

    /// Copies `content` into storage (blocking: call it from `spawn_blocking`), hashing as it
    /// goes; refuses files over the size limit, or over the `quota_left` bytes the
    /// organization's quota still allows (`quota_used` of it taken), with `BAD_USER_INPUT` on
    /// `field`, leaving nothing behind.
    pub fn store(
        &self,
        mut content: impl Read,
        filename: &str,
        content_type: Option<&str>,
        field: &str,
        quota_used: u64,
    ) -> ApiResult<StoredFile> {
        let quota_left = self.org_quota_bytes.saturating_sub(quota_used);
        let io = |e: std::io::Error| ApiError::Internal(format!("attachment storage: {e}"));
        let tmp_dir = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(io)?;
        let tmp_path = tmp_dir.join(format!("upload-{}", hex(&crate::db::random_bytes::<12>())));
        let result = (|| {
            let mut tmp = std::fs::File::create(&tmp_path).map_err(io)?;
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = content.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                if size > self.max_bytes {
                    return Err(ApiError::bad_input(
                        field,
                        format!("files may be at most {} bytes", self.max_bytes),
                    ));
                }
                if size > quota_left {
                    return Err(quota_exceeded(field, self.org_quota_bytes, quota_used));
                }
                hasher.update(&buf[..n]);
                tmp.write_all(&buf[..n]).map_err(io)?;
            }
            tmp.sync_all().map_err(io)?;
            let sha256 = hex(&hasher.finalize());
            let target = self.path_of(&sha256);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            // When the same content is there already, mark the file as in use again: a request
            // that created it and then failed, or the sweep of unreferenced files, removes it
            // only while its modification time is still old. Touching first (rather than asking
            // whether it exists) leaves no gap in which the sweep could take it away unseen.
            let touched = std::fs::File::options()
                .write(true)
                .open(&target)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            let (created, written_at) = match touched {
                Ok(()) => {
                    std::fs::remove_file(&tmp_path).map_err(io)?;
                    (false, None)
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::rename(&tmp_path, &target).map_err(io)?;
                    let written = std::fs::metadata(&target)
                        .and_then(|m| m.modified())
                        .map_err(io)?;
                    (true, Some(written))
                }
                Err(error) => return Err(io(error)),
            };
            Ok(StoredFile {
                sha256,
                size,
                filename: safe_filename(filename),
                content_type: safe_content_type(content_type),
                created,
                written_at,
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp_path);
        }
        result
    }
}

/// The `BAD_USER_INPUT` answer when uploads would take the organization past its quota.
pub fn quota_exceeded(field: &str, quota: u64, used: u64) -> ApiError {
    ApiError::bad_input(
        field,
        format!(
            "the organization's upload quota is {quota} bytes and {used} bytes of attachments \
             are stored: delete attachments, or have the operator raise \
             THREADLINE_ORG_UPLOAD_QUOTA_BYTES"
        ),
    )
}

/// The bytes of attachments the organization keeps (the sum of its attachment rows' sizes).
#[tracing::instrument(skip_all, fields(org = org), err(level = "debug"))]
pub async fn usage<C: ConnectionTrait>(db: &C, org: i64) -> ApiResult<u64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT CAST(COALESCE(SUM(a.size), 0) AS BIGINT) AS n FROM attachments a WHERE a.organization_id = ")
        .bind(org);
    Ok(u64::try_from(sql.count(db).await?).unwrap_or(0))
}

/// Removes, after the transaction that was to record them failed, the files this request put
/// in storage that no attachment row names. Failures are logged, never returned: the request
/// already has its answer, and an unreferenced content-addressed file is never wrong.
#[tracing::instrument(skip_all, fields(files = files.len()))]
pub async fn discard<C: ConnectionTrait>(db: &C, storage: &Storage, files: &[StoredFile]) {
    for file in files.iter().filter(|f| f.created) {
        // Another upload of the same content touched the file after this one wrote it: that
        // request may be about to record it, so it is not ours to remove.
        let path = storage.path_of(&file.sha256);
        let modified = tokio::fs::metadata(&path)
            .await
            .and_then(|m| m.modified())
            .ok();
        if modified.is_none() || modified != file.written_at {
            continue;
        }
        let referenced = attachment::Entity::find()
            .filter(attachment::Column::Sha256.eq(file.sha256.as_str()))
            .count(db)
            .await;
        match referenced {
            Ok(0) => {
                if let Err(error) = tokio::fs::remove_file(&path).await
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(%error, sha256 = %file.sha256, "could not remove an unrecorded upload");
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, sha256 = %file.sha256, "could not check an unrecorded upload");
            }
        }
    }
}

/// What one sweep of the storage directory removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Stored files that no attachment row named, removed.
    pub files_removed: u64,
    /// The bytes of those files.
    pub bytes_removed: u64,
    /// Stored files left alone because they changed within the grace period, referenced or
    /// not (an upload of the same content may be about to record them).
    pub files_young: u64,
    /// Temporary files of uploads that never finished (and of interrupted sweeps), removed.
    pub temp_files_removed: u64,
}

/// How many hashes one query of the sweep asks about.
const SWEEP_BATCH: usize = 500;

/// Removes the stored files that no attachment row names and that have not changed for
/// `grace`, and the temporary files (`tmp/upload-*`, `tmp/sweep-*`) older than `grace`: what
/// requests that never finished left behind. Asks the database about the hashes in batches of
/// [`SWEEP_BATCH`]. Safe to run from several processes sharing the data directory: a file is
/// first moved aside, then removed only if no upload touched it meanwhile (else it is put
/// back), and a file another sweep removed first is skipped.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn sweep<C: ConnectionTrait>(
    db: &C,
    storage: &Storage,
    grace: Duration,
) -> ApiResult<SweepReport> {
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = SweepReport::default();
    sweep_temp(storage, cutoff, &mut report).await?;
    let root = storage.dir.join("attachments");
    let Some(prefixes) = list_dir(&root).await? else {
        return Ok(report);
    };
    for (prefix, meta) in prefixes {
        if !meta.is_dir() {
            continue;
        }
        let Some(entries) = list_dir(&prefix).await? else {
            continue;
        };
        let prefix_name = prefix.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut candidates = Vec::new();
        for (path, meta) in entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Only files the storage itself names: 64 hex digits under their first two.
            let named = name.len() == 64
                && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && name.starts_with(prefix_name);
            if !named || !meta.is_file() {
                continue;
            }
            match meta.modified() {
                Ok(modified) if modified <= cutoff => candidates.push(name.to_owned()),
                Ok(_) => report.files_young += 1,
                Err(error) => return Err(storage_error(error)),
            }
        }
        for batch in candidates.chunks(SWEEP_BATCH) {
            let referenced = referenced_hashes(db, batch).await?;
            for sha256 in batch.iter().filter(|h| !referenced.contains(*h)) {
                match remove_unreferenced(storage, sha256, cutoff).await {
                    Ok(Removed::File(bytes)) => {
                        report.files_removed += 1;
                        report.bytes_removed += bytes;
                    }
                    Ok(Removed::Young) => report.files_young += 1,
                    Ok(Removed::Gone) => {}
                    Err(error) => {
                        tracing::warn!(%error, %sha256, "could not remove an unreferenced attachment file");
                    }
                }
            }
        }
    }
    if report.files_removed > 0 || report.temp_files_removed > 0 {
        tracing::info!(?report, "swept attachment storage");
    }
    Ok(report)
}

fn storage_error(error: std::io::Error) -> ApiError {
    ApiError::Internal(format!("attachment storage: {error}"))
}

/// The entries of a directory with their metadata (not following links); `None` when the
/// directory does not exist.
async fn list_dir(dir: &Path) -> ApiResult<Option<Vec<(PathBuf, std::fs::Metadata)>>> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(storage_error(error)),
    };
    let mut out = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(storage_error)? {
        match entry.metadata().await {
            Ok(meta) => out.push((entry.path(), meta)),
            // Removed since the listing (by another sweep, or a failed request's clean-up).
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(storage_error(error)),
        }
    }
    Ok(Some(out))
}

/// The hashes of `batch` that some attachment row names, in one query.
async fn referenced_hashes<C: ConnectionTrait>(
    db: &C,
    batch: &[String],
) -> ApiResult<HashSet<String>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT DISTINCT a.sha256 FROM attachments a WHERE a.sha256 IN ")
        .bind_list(batch.iter().cloned());
    let rows = db.query_all_raw(sql.build()).await?;
    let mut out = HashSet::with_capacity(rows.len());
    for row in rows {
        out.insert(row.try_get::<String>("", "sha256")?);
    }
    Ok(out)
}

/// What became of one unreferenced file.
enum Removed {
    /// Removed, with its size.
    File(u64),
    /// Changed within the grace period: left (or put back).
    Young,
    /// Already gone.
    Gone,
}

/// Removes the stored file `sha256` unless it changed after `cutoff`. The file is moved aside
/// first and its time checked again there: an upload of the same content that touched it
/// before the move gets it back, and one that comes after the move finds no file and stores
/// its own copy.
async fn remove_unreferenced(
    storage: &Storage,
    sha256: &str,
    cutoff: SystemTime,
) -> std::io::Result<Removed> {
    let not_found = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let path = storage.path_of(sha256);
    match tokio::fs::metadata(&path).await.and_then(|m| m.modified()) {
        Ok(modified) if modified > cutoff => return Ok(Removed::Young),
        Ok(_) => {}
        Err(error) if not_found(&error) => return Ok(Removed::Gone),
        Err(error) => return Err(error),
    }
    let tmp_dir = storage.dir.join("tmp");
    tokio::fs::create_dir_all(&tmp_dir).await?;
    let aside = tmp_dir.join(format!("sweep-{}", hex(&crate::db::random_bytes::<12>())));
    match tokio::fs::rename(&path, &aside).await {
        Ok(()) => {}
        Err(error) if not_found(&error) => return Ok(Removed::Gone),
        Err(error) => return Err(error),
    }
    let meta = tokio::fs::metadata(&aside).await?;
    if meta.modified()? > cutoff {
        // Touched between the check and the move. Whatever file has appeared at the path
        // since has the same content, so putting this one back over it loses nothing.
        tokio::fs::rename(&aside, &path).await?;
        return Ok(Removed::Young);
    }
    match tokio::fs::remove_file(&aside).await {
        Ok(()) => Ok(Removed::File(meta.len())),
        Err(error) if not_found(&error) => Ok(Removed::Gone),
        Err(error) => Err(error),
    }
}

/// Removes the temporary files of uploads (`tmp/upload-*`) and sweeps (`tmp/sweep-*`) that
/// have not changed since `cutoff`.
async fn sweep_temp(
    storage: &Storage,
    cutoff: SystemTime,
    report: &mut SweepReport,
) -> ApiResult<()> {
    let Some(entries) = list_dir(&storage.dir.join("tmp")).await? else {
        return Ok(());
    };
    for (path, meta) in entries {
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("upload-") || n.starts_with("sweep-"));
        let stale = meta.modified().is_ok_and(|m| m <= cutoff);
        if !ours || !meta.is_file() || !stale {
            continue;
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => report.temp_files_removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "could not remove a stale upload file");
            }
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file name without directories, control characters or quotes, at most 200 characters.
pub fn safe_filename(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let base = base.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "file".into()
    } else {
        cleaned
    }
}

/// A `type/subtype` content type made of token characters, else `application/octet-stream`.
pub fn safe_content_type(content_type: Option<&str>) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }) {
        Some(ct)
            if ct
                .split_once('/')
                .is_some_and(|(a, b)| token(a) && token(b)) =>
        {
            ct
        }
        _ => "application/octet-stream".into(),
    }
}

/// Files already in storage, to record on a note, and the organization's quota they must fit.
#[derive(Clone, Debug, Default)]
pub struct Uploads {
    /// The stored files.
    pub files: Vec<StoredFile>,
    /// The organization's upload quota in bytes.
    pub quota_bytes: u64,
    /// The input field the files came in, for errors.
    pub field: String,
}

/// Records stored files on a note, inside the caller's transaction, after checking again that
/// they fit the organization's quota (uploads running at once all passed the check made while
/// they streamed in).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    note_id: i64,
    uploads: &Uploads,
) -> ApiResult<Vec<attachment::Model>> {
    let files = &uploads.files;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    // Concurrent uploads of one organization take turns here on PostgreSQL, so each sees the
    // others' committed rows (SQLite's single writer already serialises them).
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let mut lock = Sql::new(db.get_database_backend());
        lock.push("SELECT id FROM organizations WHERE id = ")
            .bind(actor.org_id)
            .push(" FOR UPDATE");
        db.query_all_raw(lock.build()).await?;
    }
    let used = usage(db, actor.org_id).await?;
    let incoming: u64 = files.iter().map(|f| f.size).sum();
    if used.saturating_add(incoming) > uploads.quota_bytes {
        return Err(quota_exceeded(&uploads.field, uploads.quota_bytes, used));
    }
    let mut rows = Vec::with_capacity(files.len());
    for file in files {
        let row = attachment::ActiveModel {
            organization_id: Set(actor.org_id),
            note_id: Set(Some(note_id)),
            uploaded_by: Set(actor.user_id),
            sha256: Set(file.sha256.clone()),
            size: Set(i64::try_from(file.size).unwrap_or(i64::MAX)),
            content_type: Set(file.content_type.clone()),
            filename: Set(file.filename.clone()),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        rows.push(row);
    }
    Ok(rows)
}

/// Adds a stored file (`uploads` holds one) to a note the actor may edit.
#[tracing::instrument(skip_all, fields(note_id = note_id), err(level = "debug"))]
pub async fn add<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    note_id: i64,
    uploads: &Uploads,
) -> ApiResult<attachment::Model> {
    let txn = db.begin().await?;
    access::require_editable_note(&txn, actor, note_id, "attaching a file").await?;
    let mut rows = record(&txn, actor, note_id, uploads).await?;
    txn.commit().await?;
    rows.pop()
        .ok_or_else(|| ApiError::Internal("attachment not recorded".into()))
}

/// The attachment `id` if the actor may see its note; `NOT_FOUND` otherwise.
#[tracing::instrument(skip_all, fields(attachment_id = id), err(level = "debug"))]
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<attachment::Model> {
    let row = attachment::Entity::find_by_id(id)
        .filter(attachment::Column::OrganizationId.eq(actor.org_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Attachment"))?;
    let note = row.note_id.ok_or(ApiError::NotFound("Attachment"))?;
    access::visible_note(db, actor, note)
        .await
        .map_err(|_| ApiError::NotFound("Attachment"))?;
    Ok(row)
}

/// Removes an attachment from its note (same rights as editing the note).
#[tracing::instrument(skip_all, fields(attachment_id = id), err(level = "debug"))]
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<()> {
    let txn = db.begin().await?;
    let row = get(&txn, actor, id).await?;
    if let Some(note) = row.note_id {
        access::require_editable_note(&txn, actor, note, "removing an attachment").await?;
    }
    attachment::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_are_made_safe() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\x\\report \"q3\".pdf"), "report q3.pdf");
        assert_eq!(safe_filename(".."), "file");
        assert_eq!(
            safe_content_type(Some("Text/Plain; charset=utf-8")),
            "text/plain"
        );
        assert_eq!(
            safe_content_type(Some("text/html\r\nX: y")),
            "application/octet-stream"
        );
        assert_eq!(safe_content_type(None), "application/octet-stream");
    }
}
