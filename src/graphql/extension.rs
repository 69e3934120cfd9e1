//! The one place where service errors become GraphQL errors with `extensions.code`, and the
//! marker that tells the HTTP layer whether execution started (for status codes).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    ErrorExtensions, Name, Positioned, Response, ServerError, ServerResult, ValidationResult,
    Value as ConstValue, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
        NextValidation,
    },
    parser::types::{
        DocumentOperations, ExecutableDocument, FragmentDefinition, InlineFragment, Selection,
        SelectionSet,
    },
};
use async_graphql_value::Value;
use futures_util::{StreamExt, stream::BoxStream};

use super::documents::DocumentCache;
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

/// The extension factory installed on the schema; it holds the schema's parsed-document
/// cache ([`DocumentCache`]).
#[derive(Default)]
pub struct ErrorCodes {
    documents: Arc<DocumentCache>,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            documents: self.documents.clone(),
        })
    }
}

struct ErrorCodesExtension {
    documents: Arc<DocumentCache>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    /// Refuses documents that expand (fragments counted at every spread) past
    /// [`super::MAX_EXPANDED_FIELDS`] fields or [`super::MAX_ALIASES`] aliases, before anything
    /// else looks at them, and inlines their fragments so that the cost is computed on the
    /// fields' real types.
    ///
    /// A document already parsed and checked is served from the [`DocumentCache`] without
    /// calling the next step (the engine's parse and depth check, which it passed when it was
    /// kept): this must stay the schema's only extension with a `parse_query` step, or the
    /// last one. The cache keeps documents as parsed and their fragments are inlined on each
    /// use: inlined, a 16 KiB text can be thousands of times larger (a long argument spread
    /// through fragments), which the cache's bound, counted in text, would not see.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(mut document) = self.documents.get(query) {
            check_no_nul_variables(variables)?;
            inline_document_fragments(&mut document);
            return Ok(document);
        }
        // Measured on our own parse, before the engine's own checks run: its recursion-depth
        // check follows fragments at every spread, which is exponential in such a document.
        // (A document that does not parse is reported by the engine's own parse below.)
        if let Ok(document) = async_graphql::parser::parse_query(query) {
            check_expanded_size(&document)?;
            check_no_nul(&document, variables)?;
        }
        let parsed = next.run(ctx, query, variables).await?;
        let mut document = parsed.clone();
        inline_document_fragments(&mut document);
        check_introspection(&document)?;
        self.documents.put(query, parsed);
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
            let mut error = refused(format!(
                "the query costs {} and the limit is {}: each list counts its page size (`first`, default 20) times the fields under it, so ask for smaller pages or fewer nested lists",
                result.complexity,
                super::MAX_COMPLEXITY
            ));
            let extensions = error.extensions.get_or_insert_with(Default::default);
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

/// What a selection set amounts to once every fragment is expanded where it is spread.
#[derive(Clone, Copy, Default)]
struct Expanded {
    fields: usize,
    aliases: usize,
}

impl Expanded {
    fn add(self, other: Expanded) -> Expanded {
        Expanded {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

/// Measures a document as the executor will see it: fragments counted at every spread, each
/// fragment measured once (so a chain of fragments spreading the next twice costs linear time
/// to measure, not exponential). Refuses unknown and self-spreading fragments.
struct Measure<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    memo: HashMap<Name, Expanded>,
    visiting: HashSet<Name>,
}

impl Measure<'_> {
    fn set(&mut self, set: &SelectionSet) -> Result<Expanded, String> {
        let mut total = Expanded::default();
        for item in &set.items {
            let part = match &item.node {
                Selection::Field(field) => Expanded {
                    fields: 1,
                    aliases: usize::from(field.node.alias.is_some()),
                }
                .add(self.set(&field.node.selection_set.node)?),
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
            };
            total = total.add(part);
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &Name) -> Result<Expanded, String> {
        if let Some(known) = self.memo.get(name) {
            return Ok(*known);
        }
        let Some(definition) = self.fragments.get(name) else {
            return Err(format!("unknown fragment `{name}`"));
        };
        if !self.visiting.insert(name.clone()) {
            return Err(format!("fragment `{name}` spreads itself"));
        }
        let size = self.set(&definition.node.selection_set.node)?;
        self.visiting.remove(name);
        self.memo.insert(name.clone(), size);
        Ok(size)
    }
}

/// Replaces every named fragment spread by an inline fragment with the fragment's type
/// condition and selections, so that the cost of fields inside fragments is computed against
/// their real type (async-graphql 7.2 looks a named fragment's fields up on the type where it
/// is spread, which made nested pages under `node(id:)` cost one each). Only called on
/// documents whose expanded size was checked.
fn inline_fragments(
    set: &mut SelectionSet,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
) {
    for item in &mut set.items {
        let pos = item.pos;
        match &mut item.node {
            Selection::Field(field) => {
                inline_fragments(&mut field.node.selection_set.node, fragments);
            }
            Selection::InlineFragment(fragment) => {
                inline_fragments(&mut fragment.node.selection_set.node, fragments);
            }
            Selection::FragmentSpread(spread) => {
                let Some(definition) = fragments.get(&spread.node.fragment_name.node) else {
                    continue;
                };
                let mut selection_set = definition.node.selection_set.clone();
                inline_fragments(&mut selection_set.node, fragments);
                let mut directives = spread.node.directives.clone();
                directives.extend(definition.node.directives.iter().cloned());
                item.node = Selection::InlineFragment(Positioned::new(
                    InlineFragment {
                        type_condition: Some(definition.node.type_condition.clone()),
                        directives,
                        selection_set,
                    },
                    pos,
                ));
            }
        }
    }
}

/// A request refused before execution, with the request errors' code.
fn refused(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    assign_request_code(&mut error);
    error
}

/// Refuses a document whose size with its fragments expanded passes
/// [`super::MAX_EXPANDED_FIELDS`] fields or [`super::MAX_ALIASES`] aliases.
fn check_expanded_size(document: &ExecutableDocument) -> ServerResult<()> {
    let mut measure = Measure {
        fragments: &document.fragments,
        memo: HashMap::new(),
        visiting: HashSet::new(),
    };
    let mut total = Expanded::default();
    for (_, operation) in document.operations.iter() {
        total = total.add(
            measure
                .set(&operation.node.selection_set.node)
                .map_err(refused)?,
        );
    }
    if total.fields > super::MAX_EXPANDED_FIELDS {
        return Err(refused(format!(
            "the document asks for {} fields once its fragments are expanded; the limit is {}",
            total.fields,
            super::MAX_EXPANDED_FIELDS
        )));
    }
    if total.aliases > super::MAX_ALIASES {
        return Err(refused(format!(
            "the document uses {} aliases (fragments counted where they are spread); at most {} are allowed in one request: split it into several requests",
            total.aliases,
            super::MAX_ALIASES
        )));
    }
    Ok(())
}

/// Refuses a request carrying the NUL character (U+0000) in any string or object key of its
/// arguments or variables: no text of ours holds it, and PostgreSQL cannot store it in text
/// (it would answer `INTERNAL`), so it is refused once here for every input instead of in each
/// field's check.
fn check_no_nul(document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    // A variable reference holds no text of its own (variables are checked below).
    fn in_value(value: &Value) -> bool {
        value
            .clone()
            .into_const_with(|_| Ok::<_, std::convert::Infallible>(ConstValue::Null))
            .is_ok_and(|value| const_has_nul(&value))
    }
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                field
                    .node
                    .arguments
                    .iter()
                    .any(|(_, value)| in_value(&value.node))
                    || in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    let in_document = document.operations.iter().any(|(_, operation)| {
        operation
            .node
            .variable_definitions
            .iter()
            .any(|definition| {
                definition
                    .node
                    .default_value
                    .as_ref()
                    .is_some_and(|value| const_has_nul(&value.node))
            })
            || in_set(&operation.node.selection_set.node)
    }) || document
        .fragments
        .values()
        .any(|fragment| in_set(&fragment.node.selection_set.node));
    if in_document {
        return Err(nul_refused());
    }
    check_no_nul_variables(variables)
}

/// The variables' part of [`check_no_nul`] (a cached document passed the document's part).
fn check_no_nul_variables(variables: &Variables) -> ServerResult<()> {
    if variables
        .iter()
        .any(|(key, value)| key.contains('\0') || const_has_nul(value))
    {
        return Err(nul_refused());
    }
    Ok(())
}

/// Whether a value holds the NUL character in any string or object key.
fn const_has_nul(value: &ConstValue) -> bool {
    match value {
        ConstValue::String(s) => s.contains('\0'),
        ConstValue::List(items) => items.iter().any(const_has_nul),
        ConstValue::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || const_has_nul(value)),
        _ => false,
    }
}

/// The refusal of a request carrying the NUL character.
fn nul_refused() -> ServerError {
    refused(
        "text may not contain the NUL character (U+0000); remove it from the arguments or variables"
            .to_owned(),
    )
}

/// The introspection fields that return lists (of types, fields, arguments...).
const INTROSPECTION_LISTS: [&str; 8] = [
    "types",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

/// Refuses introspection that nests its lists deeper than [`super::MAX_INTROSPECTION_LISTS`]
/// or asks for `__schema` more than once. Introspection needs no token and its lists have no
/// page size, so `types { fields { type { fields { type { ... } } } } }` made a 17 KB
/// anonymous document answer 12 MB; the standard introspection query nests three lists
/// (`types { fields { args } } }`). Runs on a document whose fragments are inlined.
fn check_introspection(document: &ExecutableDocument) -> ServerResult<()> {
    /// (deepest list nesting, `__schema` fields) under `set`.
    fn walk(set: &SelectionSet, inside: bool, lists: usize) -> (usize, usize) {
        let mut deepest = lists;
        let mut schemas = 0;
        for item in &set.items {
            let (children, inside, lists) = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    schemas += usize::from(name == "__schema");
                    let inside = inside || name == "__schema" || name == "__type";
                    let lists = lists + usize::from(inside && INTROSPECTION_LISTS.contains(&name));
                    (&field.node.selection_set.node, inside, lists)
                }
                Selection::InlineFragment(fragment) => {
                    (&fragment.node.selection_set.node, inside, lists)
                }
                Selection::FragmentSpread(_) => continue,
            };
            let (below, more) = walk(children, inside, lists);
            deepest = deepest.max(below);
            schemas += more;
        }
        (deepest, schemas)
    }
    let (mut deepest, mut schemas) = (0, 0);
    for (_, operation) in document.operations.iter() {
        let (d, s) = walk(&operation.node.selection_set.node, false, 0);
        deepest = deepest.max(d);
        schemas += s;
    }
    if deepest > super::MAX_INTROSPECTION_LISTS {
        return Err(refused(format!(
            "introspection may nest at most {} lists (types, fields, args...); this document nests {deepest}",
            super::MAX_INTROSPECTION_LISTS
        )));
    }
    if schemas > 1 {
        return Err(refused(format!(
            "introspection may ask for `__schema` once per document; this one asks {schemas} times"
        )));
    }
    Ok(())
}

/// Inlines a document's fragments (see [`inline_fragments`]) and drops their definitions.
fn inline_document_fragments(document: &mut ExecutableDocument) {
    let fragments = std::mem::take(&mut document.fragments);
    match &mut document.operations {
        DocumentOperations::Single(operation) => {
            inline_fragments(&mut operation.node.selection_set.node, &fragments);
        }
        DocumentOperations::Multiple(operations) => {
            for operation in operations.values_mut() {
                inline_fragments(&mut operation.node.selection_set.node, &fragments);
            }
        }
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
