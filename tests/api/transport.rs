//! GraphQL over HTTP: methods, content types, status codes and the operational routes.

use serde_json::{Value, json};
use threadline::auth::Role;

use crate::helpers::{spawn_app, staff};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.address);
    let response = app
        .client
        .get(&url)
        .query(&[("query", "{ __typename }")])
        .header("accept", GRAPHQL_RESPONSE)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(content_type(&response).starts_with(GRAPHQL_RESPONSE));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "QueryRoot");

    let response = app
        .client
        .get(&url)
        .query(&[("query", "mutation { archiveContact(id: \"x\") { id } }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");

    // The operation chosen by name decides, not the first one in the document.
    let response = app
        .client
        .get(&url)
        .query(&[
            (
                "query",
                "query Q { __typename } mutation M { archiveContact(id: \"x\") { id } }",
            ),
            ("operationName", "M"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    let response = app
        .client
        .get(&url)
        .query(&[
            (
                "query",
                "query Q { __typename } mutation M { archiveContact(id: \"x\") { id } }",
            ),
            ("operationName", "Q"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn post_requires_a_json_object_with_a_query() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.address);
    for content in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .client
            .post(&url)
            .header("content-type", content)
            .body(r#"{"query":"mutation { archiveContact(id: \"x\") { id } }"}"#)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 415, "{content}");
    }
    let cases = [
        ("{not json", 400),
        ("[1, 2]", 400),
        (r#"{"variables": {}}"#, 400),
        (r#"{"query": 5}"#, 400),
        (r#"{"query": "{ __typename }", "variables": [1]}"#, 400),
        (r#"{"query": "{ __typename }"}"#, 200),
    ];
    for (body, status) in cases {
        let response = app
            .client
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), status, "{body}");
        let json: Value = response.json().await.expect("a JSON body, even for errors");
        if status == 400 {
            assert!(json.get("data").is_none(), "{body}: {json}");
            assert!(json["errors"][0]["message"].is_string());
        }
    }
}

#[tokio::test]
async fn request_errors_have_no_data_and_status_follows_accept() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.address);
    let requests = [
        json!({ "query": "{ __typename" }),
        json!({ "query": "{ noSuchField }" }),
        json!({ "query": "query ($n: Int!) { users(first: $n) { totalCount } }", "variables": { "n": "many" } }),
    ];
    for request in &requests {
        let response = app
            .client
            .post(&url)
            .header("accept", GRAPHQL_RESPONSE)
            .json(request)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{request}");
        assert!(content_type(&response).starts_with(GRAPHQL_RESPONSE));
        let body: Value = response.json().await.expect("json");
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

        let response = app
            .client
            .post(&url)
            .header("accept", "application/json")
            .json(request)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{request}");
        assert!(content_type(&response).starts_with("application/json"));
        let body: Value = response.json().await.expect("json");
        assert!(body.get("data").is_none(), "{body}");
    }

    // An error during execution nulls `data` but is not a request error: 200 with `data`.
    let response = app
        .client
        .post(&url)
        .header("accept", GRAPHQL_RESPONSE)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body.get("data").is_some_and(Value::is_null), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn accept_negotiation() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.address);
    let body = json!({ "query": "{ __typename }" });
    for (accept, expected) in [
        (None, Some("application/json")),
        (Some("*/*"), Some("application/json")),
        (Some("application/json"), Some("application/json")),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            Some(GRAPHQL_RESPONSE),
        ),
        (Some("text/html"), None),
    ] {
        let mut request = app.client.post(&url).json(&body);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("sent");
        match expected {
            Some(expected) => {
                assert_eq!(response.status(), 200, "{accept:?}");
                assert!(content_type(&response).starts_with(expected), "{accept:?}");
            }
            None => assert_eq!(response.status(), 406, "{accept:?}"),
        }
    }
}

#[tokio::test]
async fn health_metrics_and_playground() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);

    let org_owner = {
        let org = crate::helpers::new_org(&app.db, "M").await;
        staff(&app.db, org, "m@m.test", Role::Owner).await
    };
    let token = app.token(&org_owner);
    app.gql(Some(&token), "query Me { me { id } }", json!({}))
        .await
        .data();
    app.gql(None, "query Me { me { id } }", json!({})).await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"threadline_graphql_requests_total{operation="Me",outcome="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        // Anonymous requests are counted under one label (they may not name series).
        metrics.contains(
            r#"threadline_graphql_requests_total{operation="unauthenticated",outcome="error"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("threadline_graphql_request_duration_seconds_count 2"),
        "{metrics}"
    );

    let page = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("/console/console.js"), "{html}");
}
