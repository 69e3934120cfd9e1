//! The parsed-document cache: the documents a gateway has already parsed and checked, by their
//! text, so that a client sending the same query again (what apps do: a handful of documents,
//! each with new variables) is neither parsed nor measured again.
//!
//! Parsing was the largest part of the engine's own work per request once the statements were
//! few (BENCHMARKS.md, W1: about 10% of the gateway's CPU, because the text was parsed twice,
//! once for [`super::extension`]'s checks and once by the engine). A cached document has
//! passed every check that depends only on its text (the engine's parse and recursion depth,
//! the expanded size, NUL characters in its literals, introspection nesting); what depends on
//! the request (variables, validation against the variables, cost, execution) runs on every
//! request as before.
//!
//! A document is kept as parsed, not with its fragments inlined (that is done on each use):
//! inlined, a 16 KiB text whose fragments spread one long argument 2,048 times holds 30 MB,
//! and such documents, sent without a token and refused by validation anyway, left the
//! gateway hundreds of megabytes larger for good. As parsed, a document is a small multiple
//! of its text, which is what the bounds below count.
//!
//! **Bounds.** Only documents of at most [`MAX_CACHED_LEN`] bytes are kept, and at most
//! [`GENERATION_BYTES`] of text per generation: when the current generation is full it becomes
//! the previous one and a new one starts; a document found in the previous generation is moved
//! to the current one. So the documents in use stay, memory is bounded by two generations
//! (the parsed tree is a small multiple of the text), and a client sending endless distinct
//! documents only pushes out the others, each then parsed again as without the cache.
//! Documents refused while parsing (syntax, size, NUL, introspection nesting) are never kept.
//! A document that parses but is refused by validation (an unknown field, an unused variable,
//! its cost) is kept like any other and refused again on each request, since validation runs
//! every time; it costs the cache no more than its text.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::parser::types::ExecutableDocument;

/// The longest document text kept: 16 KiB (longer ones, rare, are parsed every time).
pub const MAX_CACHED_LEN: usize = 16 * 1024;
/// The text a generation holds before it is retired: 256 KiB (two generations at most).
pub const GENERATION_BYTES: usize = 256 * 1024;

/// One generation: documents by text, and the text they hold.
#[derive(Default)]
struct Generation {
    documents: HashMap<Arc<str>, ExecutableDocument>,
    bytes: usize,
}

#[derive(Default)]
struct Generations {
    current: Generation,
    previous: Generation,
}

/// Checked documents, as parsed, by their text; shared by every request of a schema.
#[derive(Default)]
pub struct DocumentCache {
    inner: Mutex<Generations>,
}

impl DocumentCache {
    /// A copy of the document parsed from exactly `text`, if it is held.
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(document) = inner.current.documents.get(text) {
            return Some(document.clone());
        }
        let (key, document) = inner.previous.documents.remove_entry(text)?;
        inner.previous.bytes -= key.len();
        let copy = document.clone();
        insert(&mut inner, key, document);
        Some(copy)
    }

    /// Keeps `document`, the checked result of parsing `text` (as parsed: fragments not
    /// inlined, see the module's notes), unless the text is too long.
    pub fn put(&self, text: &str, document: ExecutableDocument) {
        if text.len() > MAX_CACHED_LEN {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.current.documents.contains_key(text) {
            return;
        }
        if let Some((key, _)) = inner.previous.documents.remove_entry(text) {
            inner.previous.bytes -= key.len();
        }
        insert(&mut inner, Arc::from(text), document);
    }

    /// How many documents are held (both generations).
    pub fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.current.documents.len() + inner.previous.documents.len()
    }

    /// Whether no document is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Adds to the current generation, retiring it first if the text would not fit.
fn insert(inner: &mut Generations, key: Arc<str>, document: ExecutableDocument) {
    if inner.current.bytes + key.len() > GENERATION_BYTES {
        inner.previous = std::mem::take(&mut inner.current);
    }
    inner.current.bytes += key.len();
    inner.current.documents.insert(key, document);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(text).expect("a valid document")
    }

    fn query(n: usize) -> String {
        // Padded so that a few fill a generation.
        format!("{{ a{n}: __typename }} # {}", "x".repeat(10 * 1024))
    }

    #[test]
    fn a_kept_document_is_served_and_others_are_not() {
        let cache = DocumentCache::default();
        let text = "{ __typename }";
        assert!(cache.get(text).is_none());
        cache.put(text, parse(text));
        let served = cache.get(text).expect("kept");
        assert_eq!(format!("{served:?}"), format!("{:?}", parse(text)));
        assert!(
            cache.get("{ __typename  }").is_none(),
            "keyed by the exact text"
        );
    }

    #[test]
    fn long_documents_are_not_kept() {
        let cache = DocumentCache::default();
        let text = format!("{{ __typename }} # {}", "x".repeat(MAX_CACHED_LEN));
        cache.put(&text, parse(&text));
        assert!(cache.is_empty());
    }

    #[test]
    fn memory_is_bounded_and_documents_in_use_stay() {
        let cache = DocumentCache::default();
        let hot = "{ hot: __typename }";
        cache.put(hot, parse(hot));
        // Far more text than two generations; the hot document is asked for in between.
        for n in 0..80 {
            let text = query(n);
            cache.put(&text, parse(&text));
            assert!(
                cache.get(hot).is_some(),
                "the document in use stays (round {n})"
            );
        }
        let inner = cache.inner.lock().expect("not poisoned");
        assert!(inner.current.bytes <= GENERATION_BYTES);
        assert!(inner.previous.bytes <= GENERATION_BYTES);
        let held: usize = inner
            .current
            .documents
            .keys()
            .chain(inner.previous.documents.keys())
            .map(|k| k.len())
            .sum();
        assert_eq!(held, inner.current.bytes + inner.previous.bytes);
        assert!(cache_len(&inner) < 60, "old documents were dropped");
    }

    fn cache_len(inner: &Generations) -> usize {
        inner.current.documents.len() + inner.previous.documents.len()
    }
}
