//! Files uploaded with a note mutation: stored before the transaction, discarded when it fails.

use std::sync::Arc;

use async_graphql::{Context, Result, Upload};

use crate::{
    error::{ApiError, ApiResult},
    graphql::context::{Caller, ContextExt},
    service::{
        self,
        attachments::{Storage, StoredFile, Uploads},
    },
};

/// Stores uploads in the attachment storage (off the async threads) within the
/// organization's quota and returns them; when one fails, the files already stored for this
/// request are discarded. Call it only after checking the caller may record them.
pub async fn store_uploads(
    ctx: &Context<'_>,
    uploads: Vec<Upload>,
    field: &str,
) -> Result<Uploads> {
    let Caller { db, actor } = ctx.caller()?;
    let storage = ctx.app()?.storage.clone();
    let mut used = service::attachments::usage(db, actor.org_id).await?;
    let mut stored: Vec<StoredFile> = Vec::with_capacity(uploads.len());
    for (i, upload) in uploads.into_iter().enumerate() {
        let result = store_one(ctx, &storage, upload, format!("{field}[{i}]"), used).await;
        match result {
            Ok(file) => {
                used = used.saturating_add(file.size);
                stored.push(file);
            }
            Err(error) => {
                service::attachments::discard(db, &storage, &stored).await;
                return Err(error.into());
            }
        }
    }
    Ok(Uploads {
        files: stored,
        quota_bytes: storage.org_quota_bytes,
        field: field.to_owned(),
    })
}

pub(crate) async fn store_one(
    ctx: &Context<'_>,
    storage: &Arc<Storage>,
    upload: Upload,
    field: String,
    used: u64,
) -> ApiResult<StoredFile> {
    if used >= storage.org_quota_bytes {
        return Err(service::attachments::quota_exceeded(
            &field,
            storage.org_quota_bytes,
            used,
        ));
    }
    let value = upload.value(ctx).map_err(|_| {
        ApiError::bad_input(field.clone(), "the file part is missing from the request")
    })?;
    let storage = storage.clone();
    tokio::task::spawn_blocking(move || {
        let filename = value.filename.clone();
        let content_type = value.content_type.clone();
        storage.store(
            value.into_read(),
            &filename,
            content_type.as_deref(),
            &field,
            used,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("upload task: {e}")))?
}

/// Settles stored uploads once the mutation that records them is done: on failure the files
/// this request put in storage that no row names are removed.
pub async fn settle_uploads<T>(
    ctx: &Context<'_>,
    uploads: &Uploads,
    result: ApiResult<T>,
) -> Result<T> {
    if result.is_err() && !uploads.files.is_empty() {
        let app = ctx.app()?;
        service::attachments::discard(&app.db, &app.storage, &uploads.files).await;
    }
    Ok(result?)
}
