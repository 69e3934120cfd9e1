//! `GET /attachments/{id}`: streams an attachment to a caller who may see its note.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use tokio_util::io::ReaderStream;

use super::{AppState, auth::Caller};
use crate::{
    error::ApiError,
    ids::{self, Kind},
    service,
};

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `Content-Disposition: attachment` with an ASCII fallback name and the exact name in
/// RFC 5987 form, so the browser saves the file instead of rendering it on our origin.
fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\' && *c != ';')
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Streams the file with its stored content type; `NOT_FOUND` (404) when the attachment does
/// not exist or the caller may not see its note, `UNAUTHENTICATED` (401) without a valid token.
pub async fn download(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Response {
    let Some(actor) = actor else {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "send a valid `Authorization: Bearer <token>` header",
        );
    };
    let not_found = || error(StatusCode::NOT_FOUND, "NOT_FOUND", "Attachment not found");
    let Ok(id) = ids::decode(Kind::Attachment, &id) else {
        return not_found();
    };
    let row = match service::attachments::get(&state.db, &actor, id).await {
        Ok(row) => row,
        Err(ApiError::NotFound(_)) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "attachment download");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let file = match tokio::fs::File::open(state.storage.path_of(&row.sha256)).await {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(error = %e, sha256 = %row.sha256, "attachment file missing from storage");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the file is missing from storage",
            );
        }
    };
    let mut response = Body::from_stream(ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    let value = |v: &str| {
        HeaderValue::from_str(v)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    headers.insert(header::CONTENT_TYPE, value(&row.content_type));
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(u64::try_from(row.size).unwrap_or(0)),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition(&row.filename))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn dispositions_are_safe() {
        assert_eq!(
            disposition("résumé \"final\".pdf"),
            "attachment; filename=\"r_sum_ final.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
        );
    }
}
