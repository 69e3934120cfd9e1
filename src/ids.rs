//! Typed opaque IDs: `base64url("Contact:42")`, so `node(id:)` can resolve any of them and a
//! client never builds one by hand.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{ApiError, ApiResult};

/// The record types an ID can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An organization.
    Organization,
    /// A user.
    User,
    /// A contact.
    Contact,
    /// A collaborator grant on a contact.
    Collaborator,
    /// A timeline event.
    TimelineEvent,
    /// A note.
    Note,
    /// A task.
    Task,
    /// A task type.
    TaskType,
    /// A task outcome.
    Outcome,
    /// A note label.
    Label,
    /// A message template.
    MessageTemplate,
    /// A file attached to a note.
    Attachment,
    /// A reminder.
    Reminder,
    /// A channel.
    Channel,
    /// A grant on a channel.
    ChannelCollaborator,
    /// A conversation.
    Conversation,
    /// A message.
    Message,
    /// A webhook endpoint.
    WebhookEndpoint,
    /// One delivery of an event to a webhook endpoint.
    WebhookDelivery,
    /// A notification for a user.
    Notification,
    /// A sign-in session (in access tokens' `sid`).
    Session,
}

impl Kind {
    /// The type name written into the ID (also the GraphQL type name).
    pub fn name(self) -> &'static str {
        match self {
            Self::Organization => "Organization",
            Self::User => "User",
            Self::Contact => "Contact",
            Self::Collaborator => "Collaborator",
            Self::TimelineEvent => "TimelineEvent",
            Self::Note => "Note",
            Self::Task => "Task",
            Self::TaskType => "TaskType",
            Self::Outcome => "Outcome",
            Self::Label => "Label",
            Self::MessageTemplate => "MessageTemplate",
            Self::Attachment => "Attachment",
            Self::Reminder => "Reminder",
            Self::Channel => "Channel",
            Self::ChannelCollaborator => "ChannelCollaborator",
            Self::Conversation => "Conversation",
            Self::Message => "Message",
            Self::WebhookEndpoint => "WebhookEndpoint",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::Notification => "Notification",
            Self::Session => "Session",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Self::Organization,
            Self::User,
            Self::Contact,
            Self::Collaborator,
            Self::TimelineEvent,
            Self::Note,
            Self::Task,
            Self::TaskType,
            Self::Outcome,
            Self::Label,
            Self::MessageTemplate,
            Self::Attachment,
            Self::Reminder,
            Self::Channel,
            Self::ChannelCollaborator,
            Self::Conversation,
            Self::Message,
            Self::WebhookEndpoint,
            Self::WebhookDelivery,
            Self::Notification,
            Self::Session,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// Encodes a row id as an opaque ID of the given kind.
pub fn encode(kind: Kind, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name()))
}

/// The most IDs one list argument (`labelIds`, say) may carry: past it the request is refused
/// with `BAD_USER_INPUT` instead of becoming a statement past the database's parameter limit.
pub const MAX_IDS_PER_LIST: usize = 100;

/// Decodes a list of IDs of one `kind` (a missing list is empty), dropping repeats. More than
/// [`MAX_IDS_PER_LIST`] is `BAD_USER_INPUT` on `field`; a malformed ID is `NOT_FOUND` as in
/// [`decode`].
pub fn decode_many<I: AsRef<str>>(
    kind: Kind,
    field: &str,
    ids: Option<Vec<I>>,
) -> ApiResult<Vec<i64>> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_IDS_PER_LIST {
        return Err(ApiError::bad_input(
            field,
            format!(
                "has {} IDs; at most {MAX_IDS_PER_LIST} are accepted in one list",
                ids.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        let id = decode(kind, id.as_ref())?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Decodes an optional ID of `kind` (see [`decode`]): `None` stays `None`.
pub fn decode_opt(kind: Kind, id: Option<impl AsRef<str>>) -> ApiResult<Option<i64>> {
    id.map(|id| decode(kind, id.as_ref())).transpose()
}

/// Decodes any opaque ID into its kind and row id; `None` when it is malformed.
pub fn decode_any(id: &str) -> Option<(Kind, i64)> {
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (name, raw) = text.split_once(':')?;
    let kind = Kind::from_name(name)?;
    let id = raw.parse::<i64>().ok().filter(|id| *id > 0)?;
    Some((kind, id))
}

/// Decodes an ID that must be of `kind`. A malformed ID or one of another kind names no record
/// the caller could see, so it is reported as `NOT_FOUND`, exactly like a missing one.
pub fn decode(kind: Kind, id: &str) -> ApiResult<i64> {
    match decode_any(id) {
        Some((k, id)) if k == kind => Ok(id),
        _ => Err(ApiError::NotFound(kind.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_kinds() {
        let id = encode(Kind::Contact, 42);
        assert_eq!(decode(Kind::Contact, &id).ok(), Some(42));
        assert!(matches!(
            decode(Kind::User, &id),
            Err(ApiError::NotFound("User"))
        ));
        assert!(decode_any("not base64!").is_none());
        assert!(decode_any(&URL_SAFE_NO_PAD.encode("Contact:-1")).is_none());
        assert!(decode_any(&URL_SAFE_NO_PAD.encode("Nope:1")).is_none());
    }
}
