//! The one place where service errors become GraphQL errors with `extensions.code`, and the
//! marker that tells the HTTP layer whether execution started (for status codes).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    ErrorExtensions, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
        NextValidation,
    },
    parser::types::{ExecutableDocument, Selection, SelectionSet},
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
    /// Refuses documents with more than [`super::MAX_ALIASES`] aliases before they are validated.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let aliases = count_aliases(&document);
        if aliases > super::MAX_ALIASES {
            let mut error = ServerError::new(
                format!(
                    "the document uses {aliases} aliases; at most {} are allowed in one request: split it into several requests",
                    super::MAX_ALIASES
                ),
                None,
            );
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "BAD_USER_INPUT");
            return Err(error);
        }
        Ok(document)
    }

    /// Refuses documents whose cost (page sizes times what is asked under them) passes
    /// [`super::MAX_COMPLEXITY`], with the cost and the limit in the message.
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.complexity > super::MAX_COMPLEXITY {
            let mut error = ServerError::new(
                format!(
                    "the query costs {} and the limit is {}: each list counts its page size (`first`, default 20) times the fields under it, so ask for smaller pages or fewer nested lists",
                    result.complexity,
                    super::MAX_COMPLEXITY
                ),
                None,
            );
            let extensions = error.extensions.get_or_insert_with(Default::default);
            extensions.set("code", "BAD_USER_INPUT");
            extensions.set("cost", result.complexity);
            extensions.set("limit", super::MAX_COMPLEXITY);
            return Err(vec![error]);
        }
        Ok(result)
    }

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

/// The aliases written in a document, in its operations and its fragments.
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    document
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set.node))
        .chain(
            document
                .fragments
                .values()
                .map(|f| in_set(&f.node.selection_set.node)),
        )
        .sum()
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
