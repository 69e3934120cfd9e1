//! The notes mutations: writing notes and their attachments.

use async_graphql::{Context, ID, Object, Result, Upload};

use super::uploads::{settle_uploads, store_uploads};
use crate::{
    error::ApiError,
    graphql::{
        context::{Caller, ContextExt},
        notes::types::{Attachment, CreateNoteInput, Note, UpdateNoteInput},
    },
    ids::{self, Kind},
    service::{self, attachments::Uploads},
};

/// Notes and their attachments.
#[derive(Default)]
pub struct NotesMutation;

#[Object]
impl NotesMutation {
    /// Writes a note about a contact (`WRITE` access), with the task and reminder asked for.
    async fn create_note(&self, ctx: &Context<'_>, mut input: CreateNoteInput) -> Result<Note> {
        let Caller { db, actor } = ctx.caller()?;
        let uploads = input.attachments.take().unwrap_or_default();
        if uploads.len() > 10 {
            return Err(
                ApiError::bad_input("input.attachments", "at most 10 files at once").into(),
            );
        }
        let mut service_input = input.into_service()?;
        // Check the rights before storing anything; remove what was stored if the note fails.
        let stored = if uploads.is_empty() {
            Uploads::default()
        } else {
            service::notes::require_can_create(db, actor, service_input.contact_id).await?;
            store_uploads(ctx, uploads, "input.attachments").await?
        };
        service_input.attachments = stored.clone();
        let created = service::notes::create(db, actor, service_input).await;
        Ok(Note::created(settle_uploads(ctx, &stored, created).await?))
    }

    /// Attaches a file to a note (GraphQL multipart request; same rights as editing the note).
    async fn add_attachment(
        &self,
        ctx: &Context<'_>,
        note_id: ID,
        file: Upload,
    ) -> Result<Attachment> {
        let Caller { db, actor } = ctx.caller()?;
        let note_id = ids::decode(Kind::Note, &note_id)?;
        // Check the rights before storing anything.
        service::notes::require_editable(db, actor, note_id, "attaching a file").await?;
        let stored = store_uploads(ctx, vec![file], "file").await?;
        if stored.files.is_empty() {
            return Err(ApiError::bad_input("file", "no file was sent").into());
        }
        let added = service::attachments::add(db, actor, note_id, &stored).await;
        Ok(Attachment(settle_uploads(ctx, &stored, added).await?))
    }

    /// Removes a file from its note (same rights as editing the note).
    async fn delete_attachment(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        service::attachments::delete(db, actor, ids::decode(Kind::Attachment, &id)?).await?;
        Ok(id)
    }

    /// Edits a note: its author, or anyone with `WRITE` on the contact for a shared note.
    async fn update_note(&self, ctx: &Context<'_>, id: ID, input: UpdateNoteInput) -> Result<Note> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Note, &id)?;
        Ok(Note::new(
            service::notes::update(db, actor, id, input.into_service()?).await?,
        ))
    }

    /// Deletes a note (same rights as editing); its timeline keeps a `NOTE_DELETED` event
    /// without content.
    async fn delete_note(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        let row = ids::decode(Kind::Note, &id)?;
        service::notes::delete(db, actor, row).await?;
        Ok(id)
    }
}
