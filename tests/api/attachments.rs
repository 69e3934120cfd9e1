//! Attachments: GraphQL multipart uploads, content-addressed storage, download rights and
//! headers, the size limit, and the CSRF rule for multipart requests.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{TestApp, contact_id, spawn_app, world};

/// Sends a GraphQL multipart request (operations, map, files) as the holder of `token`.
async fn upload(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
    files: Vec<(&str, &str, &str, Vec<u8>)>,
) -> reqwest::Response {
    let mut map = serde_json::Map::new();
    let mut form = Form::new().text(
        "operations",
        json!({ "query": query, "variables": variables }).to_string(),
    );
    for (i, (path, _, _, _)) in files.iter().enumerate() {
        map.insert(i.to_string(), json!([path]));
    }
    form = form.text("map", Value::Object(map).to_string());
    for (i, (_, name, content_type, bytes)) in files.into_iter().enumerate() {
        let part = Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(content_type)
            .expect("mime");
        form = form.part(i.to_string(), part);
    }
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("sent")
}

async fn download(app: &TestApp, token: Option<&str>, url: &str) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{url}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("sent")
}

const CREATE_WITH_FILES: &str = "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id attachments { id filename contentType size sha256 url } } }";

fn files_in(dir: &std::path::Path) -> usize {
    let root = dir.join("attachments");
    let Ok(shards) = std::fs::read_dir(root) else {
        return 0;
    };
    shards
        .filter_map(Result::ok)
        .map(|shard| {
            std::fs::read_dir(shard.path())
                .map(|f| f.count())
                .unwrap_or(0)
        })
        .sum()
}

#[tokio::test]
async fn upload_store_and_download_with_rights() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let author = app.token(&w.member_write);
    let report = b"quarterly report, 42 pages".to_vec();
    let mut urls = Vec::new();
    for visibility in ["TEAM", "PRIVATE", "CUSTOMER"] {
        let response = upload(
            &app,
            Some(&author),
            CREATE_WITH_FILES,
            json!({ "input": { "contactId": cid, "subject": visibility, "visibility": visibility, "attachments": [null] } }),
            vec![("variables.input.attachments.0", "../../report \"Q3\".pdf", "application/pdf", report.clone())],
        )
        .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        let attachment = &body["data"]["createNote"]["attachments"][0];
        assert_eq!(attachment["filename"], "report Q3.pdf", "{body}");
        assert_eq!(attachment["contentType"], "application/pdf");
        assert_eq!(attachment["size"], report.len());
        urls.push(attachment["url"].as_str().expect("url").to_owned());
    }
    // Three uploads of the same bytes are stored once.
    assert_eq!(files_in(app.data_dir.path()), 1);

    let ok = download(&app, Some(&author), &urls[0]).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "application/pdf");
    assert_eq!(ok.headers()["x-content-type-options"], "nosniff");
    let disposition = ok.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"report Q3.pdf\""),
        "{disposition}"
    );
    assert_eq!(ok.bytes().await.expect("bytes").to_vec(), report);

    // (who, TEAM, PRIVATE, CUSTOMER)
    let alan = threadline::service::users::insert_unchecked(
        &app.db,
        w.owner.organization_id,
        &threadline::service::users::CreateUser {
            email: "alan@customer.test".into(),
            name: "Alan".into(),
            kind: threadline::service::users::NewUserKind::Customer(w.other_contact),
        },
    )
    .await
    .expect("customer");
    let matrix = [
        ("author", &w.member_write, [200, 200, 200]),
        ("member with READ", &w.member_read, [200, 404, 200]),
        ("admin", &w.admin, [200, 404, 200]),
        ("member without grant", &w.member_none, [404, 404, 404]),
        ("the contact's customer user", &w.customer, [404, 404, 200]),
        ("another contact's customer user", &alan, [404, 404, 404]),
        ("other organization", &w.other_owner, [404, 404, 404]),
    ];
    for (who, user, expected) in matrix {
        let token = app.token(user);
        for (url, status) in urls.iter().zip(expected) {
            assert_eq!(
                download(&app, Some(&token), url).await.status(),
                status,
                "{who} {url}"
            );
        }
    }
    assert_eq!(download(&app, None, &urls[0]).await.status(), 401);
    assert_eq!(
        download(&app, Some(&author), "/attachments/bm9wZQ")
            .await
            .status(),
        404
    );

    // Removing the attachment takes it away.
    let id = urls[0].trim_start_matches("/attachments/");
    let removed = app
        .gql(
            Some(&app.token(&w.member_read)),
            "mutation ($id: ID!) { deleteAttachment(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    removed.expect_code("FORBIDDEN");
    app.gql(
        Some(&author),
        "mutation ($id: ID!) { deleteAttachment(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .data();
    assert_eq!(download(&app, Some(&author), &urls[0]).await.status(), 404);
}

#[tokio::test]
async fn add_attachment_limits_and_csrf() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let writer = app.token(&w.member_write);
    let note = app.gql(Some(&writer), "mutation ($c: ID!) { createNote(input: { contactId: $c, body: \"see file\" }) { id } }", json!({ "c": cid })).await;
    let note_id = note.data()["createNote"]["id"].clone();
    let add = "mutation ($n: ID!, $f: Upload!) { addAttachment(noteId: $n, file: $f) { filename contentType size } }";
    let ok = upload(
        &app,
        Some(&writer),
        add,
        json!({ "n": note_id, "f": null }),
        vec![("variables.f", "notes.txt", "text/plain", b"hello".to_vec())],
    )
    .await;
    let body: Value = ok.json().await.expect("json");
    assert_eq!(
        body["data"]["addAttachment"],
        json!({ "filename": "notes.txt", "contentType": "text/plain", "size": 5 }),
        "{body}"
    );
    let listed = app
        .gql(
            Some(&writer),
            "query ($id: ID!) { note(id: $id) { attachments { filename } } }",
            json!({ "id": note_id }),
        )
        .await;
    assert_eq!(
        listed.data()["note"]["attachments"],
        json!([{ "filename": "notes.txt" }])
    );

    // READ may not attach; the file is not stored when the rights fail.
    let before = files_in(app.data_dir.path());
    let denied = upload(
        &app,
        Some(&app.token(&w.member_read)),
        add,
        json!({ "n": note_id, "f": null }),
        vec![(
            "variables.f",
            "x.txt",
            "text/plain",
            b"other bytes".to_vec(),
        )],
    )
    .await;
    let denied: Value = denied.json().await.expect("json");
    assert_eq!(
        denied["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{denied}"
    );
    assert_eq!(files_in(app.data_dir.path()), before);

    // Over the size limit (64 KiB in tests): 413, nothing stored.
    let big = upload(
        &app,
        Some(&writer),
        add,
        json!({ "n": note_id, "f": null }),
        vec![(
            "variables.f",
            "big.bin",
            "application/octet-stream",
            vec![7u8; 100 * 1024],
        )],
    )
    .await;
    assert_eq!(big.status(), 413);
    assert_eq!(files_in(app.data_dir.path()), before);

    // A multipart request without a header a cross-site form cannot send is refused.
    let csrf = upload(
        &app,
        None,
        add,
        json!({ "n": note_id, "f": null }),
        vec![("variables.f", "x.txt", "text/plain", b"x".to_vec())],
    )
    .await;
    assert_eq!(csrf.status(), 415);
}
