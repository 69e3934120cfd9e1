//! The notes queries and the notes connection (`notes` and `Contact.notes`).

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        notes::types::{Note, NoteConnectionFields, NoteFilter},
        page::{self, page_size},
    },
    ids::{self, Kind},
    service::{
        self,
        notes::{AttachedTo, NoteFilter as ServiceFilter, NoteJoins},
    },
};

/// Notes across contacts, and one note.
#[derive(Default)]
pub struct NotesQuery;

#[Object]
impl NotesQuery {
    /// The notes the caller may see across contacts, newest first: their own, the team's on
    /// contacts they may see, and (for a customer user) those shared with the customer.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NoteFilter>,
    ) -> Result<Connection<String, Note, NoteConnectionFields>> {
        notes_page(ctx, None, first, after, filter).await
    }

    /// One note by ID; `NOT_FOUND` when the caller may not see it.
    async fn note(&self, ctx: &Context<'_>, id: ID) -> Result<Note> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Note, &id)?;
        Ok(Note::new(service::notes::get(db, actor, id).await?))
    }
}

/// Resolves a notes page (`notes` and `Contact.notes`), newest first.
pub async fn notes_page(
    ctx: &Context<'_>,
    contact_id: Option<i64>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<NoteFilter>,
) -> Result<Connection<String, Note, NoteConnectionFields>> {
    let Caller { db, actor } = ctx.caller()?;
    let limit = page_size(first)?;
    let after_id = page::decode_cursor(after.as_deref())?;
    let filter = filter.unwrap_or_default();
    service::validate::search("filter.search", filter.search.as_deref())?;
    let service_filter = ServiceFilter {
        contact_id: match contact_id {
            Some(id) => Some(id),
            None => ids::decode_opt(Kind::Contact, filter.contact_id)?,
        },
        author_id: ids::decode_opt(Kind::User, filter.author_id)?,
        label_ids: ids::decode_many(Kind::Label, "filter.labelIds", filter.label_ids)?,
        visibility: filter.visibility.map(Into::into),
        search: filter.search,
        attached_to: filter.attached_to.map(|a| AttachedTo {
            kind: a.kind.trim().to_lowercase(),
            id: a.id.trim().to_owned(),
        }),
    };
    let joins = NoteJoins {
        author: page::items_select(ctx, "author"),
        contact: page::items_select(ctx, "contact"),
    };
    let page = service::notes::list(db, actor, &service_filter, after_id, limit, joins).await?;
    Ok(page::connection(
        page.rows
            .into_iter()
            .map(|row| (page::encode_cursor(row.note.id), Note::read(row))),
        after_id.is_some(),
        page.has_next,
        NoteConnectionFields {
            filter: service_filter,
        },
    ))
}
