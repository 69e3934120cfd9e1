//! Reading a GraphQL multipart request (the `graphql-multipart-request-spec`: a part
//! `operations`, a part `map`, then the files) with a limit for each part.
//!
//! async-graphql's own reader holds `operations` and `map` to the file size limit (25 MiB by
//! default) and never counts files; this one holds `operations` and `map` to
//! `THREADLINE_MAX_BODY_BYTES` each, every file to `THREADLINE_MAX_UPLOAD_BYTES`, at most
//! [`MAX_FILES`] files, and the whole body to the sum. Files are spooled to anonymous temporary
//! files (gone when closed), never held in memory.

use std::{collections::HashMap, io::SeekFrom};

use async_graphql::UploadValue;
use axum::body::Body;
use multer::{Constraints, Multipart, SizeLimit};
use serde_json::Value;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::graphql::request_from_json;

/// The most files one multipart request may carry.
pub const MAX_FILES: usize = 10;

/// The most variable paths `map` may name in all (a file may fill several variables; each
/// one holds a file descriptor until the request ends).
pub const MAX_MAP_PATHS: usize = 100;

/// The limits of one multipart request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest `operations` part, and the largest `map` part
    /// (`THREADLINE_MAX_BODY_BYTES`).
    pub max_body: u64,
    /// The largest file (`THREADLINE_MAX_UPLOAD_BYTES`).
    pub max_file: u64,
}

impl Limits {
    /// The largest whole body: [`MAX_FILES`] files, `operations` and `map`, with room to spare
    /// for the part headers and boundaries (one more body limit).
    pub fn whole(self) -> u64 {
        self.max_file
            .saturating_mul(MAX_FILES as u64)
            .saturating_add(self.max_body.saturating_mul(3))
    }

    fn too_large(self, field: Option<&str>) -> MultipartError {
        let max_body = self.max_body;
        let max_file = self.max_file;
        MultipartError::TooLarge(match field {
            Some(part @ ("operations" | "map")) => format!(
                "the `{part}` part is larger than {max_body} bytes (THREADLINE_MAX_BODY_BYTES)"
            ),
            _ => format!(
                "a file is larger than {max_file} bytes (THREADLINE_MAX_UPLOAD_BYTES); a \
                 multipart request may carry at most {MAX_FILES} files of at most {max_file} \
                 bytes each"
            ),
        })
    }

    /// The error for a body over [`Limits::whole`].
    pub fn whole_too_large(self) -> MultipartError {
        MultipartError::TooLarge(format!(
            "the multipart body is larger than {} bytes: at most {MAX_FILES} files of \
             {} bytes (THREADLINE_MAX_UPLOAD_BYTES) plus `operations` and `map` of {} bytes \
             each (THREADLINE_MAX_BODY_BYTES)",
            self.whole(),
            self.max_file,
            self.max_body
        ))
    }
}

/// Why a multipart request was not read.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    /// A part, the number of files or the whole body is over its limit (413); says which.
    #[error("{0}")]
    TooLarge(String),
    /// The request does not follow the multipart request spec (400); says how.
    #[error("{0}")]
    Invalid(String),
    /// A temporary file could not be written (500).
    #[error("spooling an upload to a temporary file: {0}")]
    Spool(#[from] std::io::Error),
}

impl MultipartError {
    fn from_multer(error: multer::Error, limits: Limits) -> Self {
        match error {
            multer::Error::FieldSizeExceeded { field_name, .. } => {
                limits.too_large(field_name.as_deref())
            }
            multer::Error::StreamSizeExceeded { .. } => limits.whole_too_large(),
            multer::Error::StreamReadFailed(error) => {
                Self::Invalid(format!("the body could not be read: {error}"))
            }
            other => Self::Invalid(format!("the multipart request could not be read: {other}")),
        }
    }
}

fn invalid(message: impl Into<String>) -> MultipartError {
    MultipartError::Invalid(message.into())
}

/// Reads a multipart request from `body` (with the request's `Content-Type`): one GraphQL
/// request with its files set on the variables `map` names.
///
/// `operations` and `map` must come before the files, as the spec orders them, so that no
/// file is written to disk before the request is known to need it; parts `map` does not name
/// are skipped without being stored.
pub async fn read_request(
    body: Body,
    content_type: &str,
    limits: Limits,
) -> Result<async_graphql::Request, MultipartError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| invalid("the multipart Content-Type has no boundary"))?;
    let size_limit = SizeLimit::new()
        .whole_stream(limits.whole())
        .per_field(limits.max_file)
        .for_field("operations", limits.max_body)
        .for_field("map", limits.max_body);
    let mut multipart = Multipart::with_constraints(
        body.into_data_stream(),
        boundary,
        Constraints::new().size_limit(size_limit),
    );
    let multer_error = |error| MultipartError::from_multer(error, limits);

    let mut request: Option<async_graphql::Request> = None;
    let mut map: Option<HashMap<String, Vec<String>>> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multer_error)? {
        let name = field.name().map(str::to_owned);
        match name.as_deref() {
            Some("operations") => {
                if request.is_some() {
                    return Err(invalid("the `operations` part is sent twice"));
                }
                let bytes = field.bytes().await.map_err(multer_error)?;
                request = Some(parse_operations(&bytes)?);
            }
            Some("map") => {
                if map.is_some() {
                    return Err(invalid("the `map` part is sent twice"));
                }
                if request.is_none() {
                    return Err(invalid("the `operations` part must come before `map`"));
                }
                let bytes = field.bytes().await.map_err(multer_error)?;
                map = Some(parse_map(&bytes)?);
            }
            Some(name) => {
                let (Some(request), Some(map)) = (request.as_mut(), map.as_mut()) else {
                    return Err(invalid(
                        "the `operations` and `map` parts must come before the files",
                    ));
                };
                // A part `map` does not name (or names twice) fills no variable: skip it. `map`
                // names at most MAX_FILES parts, each taken once, so no more files are stored.
                let Some(paths) = map.remove(name) else {
                    continue;
                };
                let filename = field.file_name().unwrap_or(name).to_owned();
                let content_type = field.content_type().map(ToString::to_string);
                let content = spool(&mut field, limits).await?;
                let upload = UploadValue {
                    filename,
                    content_type,
                    content,
                };
                for path in paths {
                    let before = request.uploads.len();
                    request.set_upload(&path, upload.try_clone()?);
                    if request.uploads.len() == before {
                        return Err(invalid(format!(
                            "`map` path `{path}` names no variable: send the variable (as null) \
                             and name it like `variables.file` or `variables.files.0`"
                        )));
                    }
                }
            }
            None => {}
        }
    }
    let request = request.ok_or_else(|| invalid("the `operations` part is missing"))?;
    let map = map.ok_or_else(|| invalid("the `map` part is missing"))?;
    if !map.is_empty() {
        let mut missing: Vec<_> = map.into_keys().collect();
        missing.sort();
        return Err(invalid(format!(
            "`map` names files that were not sent: {}",
            missing.join(", ")
        )));
    }
    Ok(request)
}

/// `operations`: one GraphQL request as JSON, read like a JSON `POST` body.
fn parse_operations(bytes: &[u8]) -> Result<async_graphql::Request, MultipartError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| invalid(format!("`operations` is not valid JSON: {error}")))?;
    if value.is_array() {
        return Err(invalid(
            "batched operations are not supported: send one operation per request",
        ));
    }
    request_from_json(value).map_err(|message| invalid(format!("`operations`: {message}")))
}

/// `map`: file part name to the variable paths the file fills.
fn parse_map(bytes: &[u8]) -> Result<HashMap<String, Vec<String>>, MultipartError> {
    let map: HashMap<String, Vec<String>> = serde_json::from_slice(bytes).map_err(|error| {
        invalid(format!(
            "`map` must be a JSON object of file part names to arrays of variable paths: {error}"
        ))
    })?;
    if map.len() > MAX_FILES {
        return Err(MultipartError::TooLarge(format!(
            "a multipart request may carry at most {MAX_FILES} files; `map` names {}",
            map.len()
        )));
    }
    let paths: usize = map.values().map(Vec::len).sum();
    if paths > MAX_MAP_PATHS {
        return Err(invalid(format!(
            "`map` may name at most {MAX_MAP_PATHS} variable paths in all; it names {paths}"
        )));
    }
    Ok(map)
}

/// Writes a file part to an anonymous temporary file (removed by the system when closed) and
/// rewinds it.
async fn spool(
    field: &mut multer::Field<'_>,
    limits: Limits,
) -> Result<std::fs::File, MultipartError> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(std::io::Error::other)??;
    let mut file = tokio::fs::File::from_std(file);
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| MultipartError::from_multer(e, limits))?
    {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.seek(SeekFrom::Start(0)).await?;
    Ok(file.into_std().await)
}
