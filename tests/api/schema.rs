//! The contract snapshot: `schema/schema.graphql` must equal the running schema's SDL.

#[test]
fn schema_snapshot_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql");
    let current = threadline::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &current).expect("write schema/schema.graphql");
        return;
    }
    let stored = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        stored == current,
        "schema/schema.graphql is stale. Regenerate it with:\n\n    cargo run -- schema > schema/schema.graphql\n\n(or UPDATE_SCHEMA=1 cargo test schema_snapshot), then review the diff: the contract is public."
    );
}
