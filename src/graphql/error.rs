//! The one mapping of the service layer's [`ApiError`] to a GraphQL error: its message and a
//! stable `extensions.code` (plus `field` for bad input). Internal details are logged, never
//! shown.

use async_graphql::ErrorExtensions;

use crate::error::ApiError;

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        match self {
            Self::Database(e) => tracing::error!(error = %e, "database error"),
            Self::Internal(e) => tracing::error!(error = %e, "internal error"),
            _ => {}
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Self::BadInput { field, .. } = self {
                ext.set("field", field.as_str());
            }
            if let Self::RateLimited {
                retry_after_secs, ..
            } = self
            {
                ext.set("retryAfter", *retry_after_secs);
            }
        })
    }
}
