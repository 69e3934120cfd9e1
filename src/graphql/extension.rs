//! The one place where service errors become GraphQL errors with `extensions.code`, and the
//! marker that tells the HTTP layer whether execution started (for status codes).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    ErrorExtensions, Response, ServerError,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextSubscribe},
};
use futures_util::{StreamExt, stream::BoxStream};

use crate::error::ApiError;

/// Set once the operation starts executing: errors before it (parse, validation, variables)
/// are request errors, answered 400 without `data` under `application/graphql-response+json`.
#[derive(Clone, Default)]
pub struct ExecutionStarted(pub Arc<AtomicBool>);

impl ExecutionStarted {
    /// Whether execution started.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The extension factory installed on the schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(marker) = ctx.data_opt::<ExecutionStarted>() {
            marker.0.store(true, Ordering::SeqCst);
        }
        let mut response = next.run(ctx, operation_name).await;
        for error in &mut response.errors {
            assign_code(error);
        }
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                for error in &mut response.errors {
                    assign_code(error);
                }
                response
            })
            .boxed()
    }
}

/// Gives an execution error its code: service errors map through [`ApiError`]; errors raised by
/// async-graphql itself (a bad argument value) are the caller's input; anything else is
/// internal and its message is hidden.
pub fn assign_code(error: &mut ServerError) {
    if let Some(api) = error.source::<ApiError>() {
        let mapped = api.extend();
        error.message = mapped.message;
        error.extensions = mapped.extensions;
        return;
    }
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if has_code {
        return;
    }
    let code = if error.source.is_some() {
        tracing::error!(message = %error.message, "unmapped resolver error");
        error.message = "internal error".into();
        "INTERNAL"
    } else {
        "BAD_USER_INPUT"
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

/// Gives a request error (before execution) its code.
pub fn assign_request_code(error: &mut ServerError) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", "BAD_USER_INPUT");
}
