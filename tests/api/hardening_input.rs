//! Regression tests for issue 9 (input side): multi-line text, the cost of nested pages and
//! aliases, bounded ID lists, template expansion and remote images in note HTML. Each failed on
//! the code before the fix.

use serde_json::{Value, json};
use threadline::service::channels;

use super::helpers::*;

const CREATE_NOTE: &str = "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id subject body bodyHtml } }";

#[tokio::test]
async fn multi_line_text_is_kept_where_text_spans_lines() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);

    let body = "line one\nline two\r\n\tindented";
    let note = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": cid, "body": body, "bodyHtml": "<p>a</p>\n<p>b</p>" } }),
        )
        .await;
    assert_eq!(note.data()["createNote"]["body"], body);
    assert_eq!(note.data()["createNote"]["bodyHtml"], "<p>a</p>\n<p>b</p>");
    let note_id = note.data()["createNote"]["id"].clone();
    let updated = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!, $b: String!) { updateNote(id: $id, input: { body: $b }) { body } }",
            json!({ "id": note_id, "b": "first\nsecond" }),
        )
        .await;
    assert_eq!(updated.data()["updateNote"]["body"], "first\nsecond");

    let task = app
        .gql(
            Some(&owner),
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { description } }",
            json!({ "input": { "contactId": cid, "description": "Call back\n- ask about the renewal" } }),
        )
        .await;
    assert_eq!(
        task.data()["createTask"]["description"],
        "Call back\n- ask about the renewal"
    );

    let template = app
        .gql(
            Some(&owner),
            "mutation ($b: String!) { createMessageTemplate(input: { name: \"Letter\", body: $b }) { body } }",
            json!({ "b": "Dear {{contact.name}},\n\nthanks." }),
        )
        .await;
    assert_eq!(
        template.data()["createMessageTemplate"]["body"],
        "Dear {{contact.name}},\n\nthanks."
    );

    let line = channels::create(
        &app.db,
        &actor(&w.owner),
        channels::ChannelKind::Email,
        "support@acme.test",
        "Support",
    )
    .await
    .expect("channel")
    .channel
    .id;
    let chid = threadline::ids::encode(threadline::ids::Kind::Channel, line);
    let sent = app
        .gql(
            Some(&owner),
            "mutation ($c: ID!, $ch: ID!, $b: String!) { sendMessage(input: { contactId: $c, channelId: $ch, body: $b }) { body } }",
            json!({ "c": cid, "ch": chid, "b": "Hello,\nsee you Monday." }),
        )
        .await;
    assert_eq!(
        sent.data()["sendMessage"]["body"],
        "Hello,\nsee you Monday."
    );

    // Other control characters stay refused, and single-line fields stay single-line.
    let bell = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": cid, "body": "ring \u{7} ring" } }),
        )
        .await;
    bell.expect_code("BAD_USER_INPUT");
    assert_eq!(bell.field(), Some("input.body"));
    let subject = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": cid, "subject": "two\nlines", "body": "b" } }),
        )
        .await;
    subject.expect_code("BAD_USER_INPUT");
    assert_eq!(subject.field(), Some("input.subject"));
    let name = app
        .gql(
            Some(&owner),
            "mutation { createContact(input: { name: \"Ada\\nLovelace\" }) { id } }",
            json!({}),
        )
        .await;
    name.expect_code("BAD_USER_INPUT");
}

/// The issue's query: four nested pages of 100, up to 10^8 objects.
const NESTED_PAGES: &str = "{ contacts(first: 100) { edges { node { notes(first: 100) { edges { node { contact { tasks(first: 100) { edges { node { contact { timeline(first: 100) { edges { node { summary } } } } } } } } } } } } } } }";

#[tokio::test]
async fn nested_pages_and_aliases_are_refused_before_execution() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let member = app.token(&w.member_read);

    let refused = app.gql(Some(&member), NESTED_PAGES, json!({})).await;
    let message = refused.expect_code("BAD_USER_INPUT");
    assert!(
        message.contains("costs") && message.contains("50000"),
        "{message}"
    );
    assert!(refused.body.get("data").is_none(), "{}", refused.body);
    let cost = refused.body["errors"][0]["extensions"]["cost"]
        .as_u64()
        .expect("the cost in extensions");
    assert!(cost > 100_000_000, "{cost}");
    assert_eq!(refused.body["errors"][0]["extensions"]["limit"], 50_000);

    // Page sizes given through variables count the same.
    let with_variables = app
        .gql(
            Some(&member),
            "query ($n: Int) { contacts(first: $n) { edges { node { notes(first: $n) { edges { node { tasks(first: $n) { edges { node { id } } } } } } } } } }",
            json!({ "n": 100 }),
        )
        .await;
    with_variables.expect_code("BAD_USER_INPUT");

    // Fragments are costed where they are spread, inline fragments likewise.
    let with_fragments = app
        .gql(
            Some(&member),
            "query { contacts(first: 100) { ...C } } fragment C on ContactConnection { edges { node { notes(first: 100) { ...N } } } } fragment N on NoteConnection { edges { node { ... on Note { tasks(first: 100) { edges { node { id } } } } } } }",
            json!({}),
        )
        .await;
    with_fragments.expect_code("BAD_USER_INPUT");

    // A full contact page still runs.
    let page = app
        .gql(
            Some(&member),
            "{ contacts(first: 100) { edges { node { id name emails { email label } phones { number } labels { name } notes(first: 5) { edges { node { id subject } } } tasks(first: 5) { edges { node { id description } } } timeline(first: 10) { edges { node { summary } } } } } } }",
            json!({}),
        )
        .await;
    page.data();

    // Aliases multiply a document; past the cap it is refused, whatever each one costs.
    let aliased: String = (0..31)
        .map(|i| format!("a{i}: me {{ id }} "))
        .collect::<String>();
    let aliased = app
        .gql(Some(&member), &format!("{{ {aliased} }}"), json!({}))
        .await;
    let message = aliased.expect_code("BAD_USER_INPUT");
    assert!(message.contains("31 aliases"), "{message}");
    let fine: String = (0..30).map(|i| format!("a{i}: me {{ id }} ")).collect();
    app.gql(Some(&member), &format!("{{ {fine} }}"), json!({}))
        .await
        .data();
}

#[tokio::test]
async fn id_lists_are_bounded() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let label = |n: i64| threadline::ids::encode(threadline::ids::Kind::Label, n);

    let many: Vec<String> = (1..=101).map(label).collect();
    for (query, field) in [
        (
            "query ($ids: [ID!]) { contacts(filter: { labelIds: $ids }) { edges { node { id } } } }",
            "filter.labelIds",
        ),
        (
            "query ($ids: [ID!]) { notes(filter: { labelIds: $ids }) { edges { node { id } } } }",
            "filter.labelIds",
        ),
    ] {
        let r = app.gql(Some(&owner), query, json!({ "ids": many })).await;
        let message = r.expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some(field), "{}", r.body);
        assert!(message.contains("at most 100"), "{message}");
    }
    let create = app
        .gql(
            Some(&owner),
            "mutation ($ids: [ID!]) { createContact(input: { name: \"Ada\", labelIds: $ids }) { id } }",
            json!({ "ids": many }),
        )
        .await;
    create.expect_code("BAD_USER_INPUT");
    assert_eq!(create.field(), Some("input.labelIds"));

    // Repeats of an enum are one value each: a long list is no longer a statement past the
    // database's parameter limit (SQLite 32,766, PostgreSQL 65,535; that answered INTERNAL).
    let kinds: Vec<Value> = (0..66_000).map(|_| json!("NOTE_CREATED")).collect();
    let timeline = app
        .gql(
            Some(&owner),
            "query ($c: ID!, $k: [TimelineEventKind!]) { timeline(contactId: $c, filter: { kinds: $k }) { edges { node { id } } } }",
            json!({ "c": contact_id(w.contact), "k": kinds }),
        )
        .await;
    timeline.data();
}

#[tokio::test]
async fn templates_are_checked_after_expansion() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let long_name = "N".repeat(200);
    let contact = app
        .gql(
            Some(&owner),
            "mutation ($n: String!) { createContact(input: { name: $n }) { id } }",
            json!({ "n": long_name }),
        )
        .await;
    let cid = contact.data()["createContact"]["id"].clone();
    // 6,250 placeholders: 100,000 characters, within a template's limit, that expand to
    // 1,250,000 for this contact.
    let body = "{{contact.name}}".repeat(6_250);
    let template = app
        .gql(
            Some(&owner),
            "mutation ($b: String!) { createMessageTemplate(input: { name: \"Huge\", body: $b }) { id } }",
            json!({ "b": body }),
        )
        .await;
    let template_id = template.data()["createMessageTemplate"]["id"].clone();
    let note = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": cid, "templateId": template_id } }),
        )
        .await;
    let message = note.expect_code("BAD_USER_INPUT");
    assert_eq!(note.field(), Some("input.templateId"));
    assert!(message.contains("1250000"), "{message}");
    assert_eq!(app.count_rows("notes").await, 0);

    // The same template fills a note for a contact with a short name.
    let short = app
        .gql(
            Some(&owner),
            "mutation ($b: String!) { createMessageTemplate(input: { name: \"Small\", body: $b }) { id } }",
            json!({ "b": "{{contact.name}}".repeat(100) }),
        )
        .await;
    let note = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": cid, "templateId": short.data()["createMessageTemplate"]["id"] } }),
        )
        .await;
    assert_eq!(
        note.data()["createNote"]["body"].as_str().map(str::len),
        Some(20_000)
    );
}

#[tokio::test]
async fn remote_images_are_dropped_from_note_html() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let customer = app.token(&w.customer);
    let html = concat!(
        r#"<p>Hi</p><img src="https://tracker.example/pixel.gif?u=1" alt="logo">"#,
        r#"<img src="//tracker.example/p2.gif"><img src="/attachments/QXR0YWNobWVudDox" alt="own">"#,
    );
    let note = app
        .gql(
            Some(&owner),
            "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id bodyHtml } }",
            json!({ "input": { "contactId": contact_id(w.contact), "visibility": "CUSTOMER", "bodyHtml": html } }),
        )
        .await;
    let stored = note.data()["createNote"]["bodyHtml"]
        .as_str()
        .expect("html")
        .to_owned();
    assert!(!stored.contains("tracker.example"), "{stored}");
    assert!(
        stored.contains(r#"src="/attachments/QXR0YWNobWVudDox""#),
        "{stored}"
    );
    // What the customer reads is the cleaned HTML.
    let seen = app
        .gql(
            Some(&customer),
            "query ($id: ID!) { note(id: $id) { bodyHtml } }",
            json!({ "id": note.data()["createNote"]["id"] }),
        )
        .await;
    assert_eq!(seen.data()["note"]["bodyHtml"], stored.as_str());
    // Changing a note's HTML goes through the same cleaning.
    let updated = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!, $h: String) { updateNote(id: $id, input: { bodyHtml: $h }) { bodyHtml } }",
            json!({ "id": note.data()["createNote"]["id"], "h": "<img src=\"http://tracker.example/x.png\">" }),
        )
        .await;
    let html = updated.data()["updateNote"]["bodyHtml"]
        .as_str()
        .expect("html");
    assert!(!html.contains("tracker.example"), "{html}");
}

/// Found by the attacker review: fragments spreading the next one twice made a 1 KB anonymous
/// document expand exponentially (n = 22 took 11 s of CPU); a named fragment under `node(id:)`
/// escaped the cost of its nested pages; and one fragment spread many times multiplied its
/// aliases past the cap.
#[tokio::test]
async fn fragments_are_measured_where_they_are_spread() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let member = app.token(&w.member_read);

    let mut doubling = String::from("query { me { ...F0 } }");
    for i in 0..30 {
        doubling.push_str(&format!(
            " fragment F{i} on User {{ ...F{n} ...F{n} }}",
            n = i + 1
        ));
    }
    doubling.push_str(" fragment F30 on User { id }");
    let started = std::time::Instant::now();
    let refused = app.gql(None, &doubling, json!({})).await;
    let message = refused.expect_code("BAD_USER_INPUT");
    assert!(message.contains("fragments are expanded"), "{message}");
    // Not a timing assertion on speed: before the fix this request ran for hours.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    let hidden_pages = "query ($id: ID!) { node(id: $id) { ...F } } fragment F on Contact { notes(first: 100) { edges { node { contact { tasks(first: 100) { edges { node { contact { timeline(first: 100) { edges { node { summary } } } } } } } } } } } }";
    let refused = app
        .gql(
            Some(&member),
            hidden_pages,
            json!({ "id": contact_id(w.contact) }),
        )
        .await;
    let message = refused.expect_code("BAD_USER_INPUT");
    assert!(message.contains("costs"), "{message}");

    let aliases: String = (0..20).map(|i| format!("a{i}: name ")).collect();
    let spread_twice = format!(
        "query ($id: ID!) {{ x: contact(id: $id) {{ ...F }} y: contact(id: $id) {{ ...F }} }} fragment F on Contact {{ {aliases} }}"
    );
    let refused = app
        .gql(
            Some(&member),
            &spread_twice,
            json!({ "id": contact_id(w.contact) }),
        )
        .await;
    let message = refused.expect_code("BAD_USER_INPUT");
    assert!(message.contains("42 aliases"), "{message}");

    // Ordinary fragments still work, with their type conditions and directives.
    let fine = app
        .gql(
            Some(&member),
            "query ($id: ID!, $no: Boolean!) { node(id: $id) { ...C } contact(id: $id) { ...C @skip(if: $no) } } fragment C on Contact { name ...E } fragment E on Contact { emails { email } }",
            json!({ "id": contact_id(w.contact), "no": true }),
        )
        .await;
    assert_eq!(fine.data()["node"]["name"], "Grace Hopper");
    assert!(
        fine.data()["contact"].get("name").is_none(),
        "{}",
        fine.body
    );
    let cyclic = app
        .gql(
            Some(&member),
            "query { me { ...A } } fragment A on User { ...B } fragment B on User { ...A }",
            json!({}),
        )
        .await;
    cyclic.expect_code("BAD_USER_INPUT");
}

/// Found by the attacker review: on PostgreSQL a NUL character in a filter, a custom field or
/// an external id answered INTERNAL (text cannot hold it; SQLite stored it), and dates past the
/// year 9999 were taken (a reminder for `+10000-01-01` fired at once on SQLite, whose text
/// timestamps then sort before today's).
#[tokio::test]
async fn nul_characters_and_out_of_range_dates_are_bad_input() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let line = channels::create(
        &app.db,
        &actor(&w.owner),
        channels::ChannelKind::Phone,
        "+14155550111",
        "Line",
    )
    .await
    .expect("channel")
    .channel
    .id;
    let chid = threadline::ids::encode(threadline::ids::Kind::Channel, line);
    let nul = "a\u{0}b";
    for (query, variables) in [
        (
            "query ($s: String) { contacts(filter: { search: $s }) { edges { node { id } } } }",
            json!({ "s": nul }),
        ),
        (
            "query ($t: String) { tasks(filter: { tag: $t }) { edges { node { id } } } }",
            json!({ "t": nul }),
        ),
        (
            "query ($k: String!) { notes(filter: { attachedTo: { kind: $k, id: \"1\" } }) { edges { node { id } } } }",
            json!({ "k": nul }),
        ),
        (
            "mutation ($f: JSON) { createContact(input: { name: \"Ada\", customFields: $f }) { id } }",
            json!({ "f": { "k": nul } }),
        ),
        (
            "mutation ($f: JSON) { createContact(input: { name: \"Ada\", customFields: $f }) { id } }",
            json!({ "f": { nul: "v" } }),
        ),
        (
            "mutation ($c: ID!, $ch: ID!, $e: String) { recordInboundMessage(input: { contactId: $c, channelId: $ch, body: \"hi\", externalId: $e }) { id } }",
            json!({ "c": cid, "ch": chid, "e": nul }),
        ),
        // Written inline in the document rather than in variables.
        (
            "{ contacts(filter: { search: \"a\\u0000b\" }) { edges { node { id } } } }",
            json!({}),
        ),
    ] {
        let r = app.gql(Some(&owner), query, variables).await;
        let message = r.expect_code("BAD_USER_INPUT");
        assert!(message.contains("NUL"), "{query}: {message}");
    }
    assert_eq!(app.count_rows("messages").await, 0);

    let escape = app
        .gql(
            Some(&owner),
            "mutation ($c: ID!, $ch: ID!, $e: String) { recordInboundMessage(input: { contactId: $c, channelId: $ch, body: \"hi\", externalId: $e }) { id } }",
            json!({ "c": cid, "ch": chid, "e": "a\u{1b}[31m" }),
        )
        .await;
    escape.expect_code("BAD_USER_INPUT");
    assert_eq!(escape.field(), Some("input.externalId"));

    for (query, variables, field) in [
        (
            "mutation ($c: ID!, $at: DateTime) { createTask(input: { contactId: $c, description: \"Later\", remindAt: $at }) { id } }",
            json!({ "c": cid, "at": "+10000-01-01T00:00:00Z" }),
            "input.remindAt",
        ),
        (
            "mutation ($c: ID!, $at: DateTime) { createTask(input: { contactId: $c, description: \"Later\", scheduledAt: $at }) { id } }",
            json!({ "c": cid, "at": "-0005-01-01T00:00:00Z" }),
            "input.scheduledAt",
        ),
        (
            "query ($c: ID!, $at: DateTime) { timeline(contactId: $c, filter: { since: $at }) { edges { node { id } } } }",
            json!({ "c": cid, "at": "-200000-01-01T00:00:00Z" }),
            "filter.since",
        ),
        (
            "query ($at: DateTime) { tasks(filter: { scheduledTo: $at }) { edges { node { id } } } }",
            json!({ "at": "+20000-01-01T00:00:00Z" }),
            "filter.scheduledTo",
        ),
    ] {
        let r = app.gql(Some(&owner), query, variables).await;
        let message = r.expect_code("BAD_USER_INPUT");
        assert_eq!(r.field(), Some(field), "{}", r.body);
        assert!(message.contains("9999"), "{message}");
    }
    assert_eq!(app.count_rows("tasks").await, 0);
    assert_eq!(app.count_rows("reminders").await, 0);
}

/// graphql-js's `getIntrospectionQuery()` (what GraphiQL and code generators send).
const STANDARD_INTROSPECTION: &str = r#"query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"#;

/// Found by the second attacker review: introspection needs no token and its lists have no
/// page size, so nesting `fields { type { fields ... } }` made a 17 KB anonymous document
/// answer 12 MB after 6 s; and forged time cursors past PostgreSQL's range answered INTERNAL
/// (SQLite compared them as text, out of time order).
#[tokio::test]
async fn introspection_and_cursors_are_bounded() {
    let app = spawn_app().await;
    let w = world(&app).await;

    let standard = app.gql(None, STANDARD_INTROSPECTION, json!({})).await;
    assert!(
        standard.data()["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 50),
        "{}",
        standard.body
    );

    let mut nested = String::from("name");
    for _ in 0..5 {
        nested = format!("name fields {{ name type {{ {nested} }} }}");
    }
    let bomb = app
        .gql(
            None,
            &format!("{{ __schema {{ types {{ {nested} }} }} }}"),
            json!({}),
        )
        .await;
    let message = bomb.expect_code("BAD_USER_INPUT");
    assert!(message.contains("introspection may nest"), "{message}");
    let twice = app
        .gql(
            None,
            "{ a: __schema { types { name } } b: __schema { types { name } } }",
            json!({}),
        )
        .await;
    twice.expect_code("BAD_USER_INPUT");

    let owner = app.token(&w.owner);
    let forged = |tag: &str, micros: i64| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{tag}:{micros}:1"))
    };
    // Year 10000, and a time chrono can hold but PostgreSQL cannot.
    for micros in [253_402_300_800_000_000_i64, -8_000_000_000_000_000_000] {
        for (query, variables) in [
            (
                "query ($a: String) { tasks(first: 2, orderBy: { field: SCHEDULED_AT, direction: ASC }, after: $a) { edges { cursor } } }",
                json!({ "a": forged("k", micros) }),
            ),
            (
                "query ($c: ID!, $a: String) { timeline(contactId: $c, after: $a) { edges { cursor } } }",
                json!({ "c": contact_id(w.contact), "a": forged("t", micros) }),
            ),
            (
                "query ($a: String) { conversations(after: $a) { edges { cursor } } }",
                json!({ "a": forged("c", micros) }),
            ),
            (
                "query ($a: String) { reminders(after: $a) { edges { cursor } } }",
                json!({ "a": forged("r", micros) }),
            ),
        ] {
            let r = app.gql(Some(&owner), query, variables).await;
            r.expect_code("BAD_USER_INPUT");
            assert_eq!(r.field(), Some("after"), "{}", r.body);
        }
    }
}

/// The gateway keeps the documents it parsed (`graphql::documents`): a document seen before
/// is answered for each request's own variables, and every check that depends on the
/// variables or the caller runs again; refused documents are refused every time.
#[tokio::test]
async fn documents_seen_before_are_checked_again() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let member = app.token(&w.member_read);

    // The same text, different variables: each answer is its own.
    let read = "query ($id: ID!) { contact(id: $id) { id name } }";
    for (contact, name) in [
        (w.contact, "Grace Hopper"),
        (w.other_contact, "Alan Turing"),
    ] {
        let r = app
            .gql(Some(&owner), read, json!({ "id": contact_id(contact) }))
            .await;
        assert_eq!(r.data()["contact"]["name"], name, "{}", r.body);
    }
    // And for each caller: the member may not see the other contact.
    let r = app
        .gql(
            Some(&member),
            read,
            json!({ "id": contact_id(w.other_contact) }),
        )
        .await;
    r.expect_code("NOT_FOUND");

    // The cost depends on the variables: a document accepted for small pages is refused for
    // large ones, then accepted again.
    let pages = "query ($n: Int) { contacts(first: $n) { edges { node { notes(first: $n) { edges { node { id subject } } } tasks(first: $n) { edges { node { id description } } } timeline(first: $n) { edges { node { id summary } } } } } } }";
    for (n, refused) in [(2, false), (100, true), (2, false)] {
        let r = app.gql(Some(&member), pages, json!({ "n": n })).await;
        if refused {
            r.expect_code("BAD_USER_INPUT");
        } else {
            r.data();
        }
    }

    // NUL characters in the variables of a known document.
    let search =
        "query ($s: String) { contacts(filter: { search: $s }) { edges { node { id } } } }";
    app.gql(Some(&owner), search, json!({ "s": "Grace" }))
        .await
        .data();
    let message = app
        .gql(Some(&owner), search, json!({ "s": "a\u{0}b" }))
        .await
        .expect_code("BAD_USER_INPUT");
    assert!(message.contains("NUL"), "{message}");

    // Refused documents, twice each.
    let aliased: String = (0..31).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let aliased = format!("{{ {aliased} }}");
    for query in [
        aliased.as_str(),
        "{ contacts(filter: { search: \"a\\u0000b\" }) { edges { node { id } } } }",
        "query { me { ...A } } fragment A on User { ...B } fragment B on User { ...A }",
        "{ a: __schema { types { name } } b: __schema { types { name } } }",
        "{ me { id }",
    ] {
        for attempt in 0..2 {
            let r = app.gql(Some(&owner), query, json!({})).await;
            let message = r.expect_code("BAD_USER_INPUT");
            assert!(!message.is_empty(), "{query} (attempt {attempt})");
        }
    }

    // Without a token, a known document is answered as for anyone without one.
    app.gql(None, read, json!({ "id": contact_id(w.contact) }))
        .await
        .expect_code("UNAUTHENTICATED");
}
