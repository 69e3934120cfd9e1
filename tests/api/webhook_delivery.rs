//! Webhook delivery through the real worker to real receivers on 127.0.0.1: signatures (HMAC,
//! rotation, ed25519), retries with the same `webhook-id`, `Retry-After`, 410, per-record
//! order under a receiver that fails at random, the delivery log, redelivery, test events,
//! pruning and metrics.

use std::sync::{Arc, Mutex};

use axum::{
    http::{HeaderValue, StatusCode},
    response::IntoResponse,
};
use chrono::{Duration, Utc};
use entity::webhook_delivery;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, Statement,
    TransactionTrait,
};
use serde_json::{Value, json};
use webhooks::signing::Verifier;

use crate::{
    helpers::{TestApp, contact_id, spawn_app_with_config, world},
    receiver::{self, Receiver},
};

/// A gateway whose webhook URLs may point at this machine (the receivers).
async fn app() -> TestApp {
    spawn_app_with_config(|c| c.webhook_allow_private = true).await
}

/// Registers an endpoint for `url` and `types`; returns (endpoint id, secret).
async fn endpoint(app: &TestApp, token: &str, url: &str, extra: Value) -> (Value, String) {
    let mut input = json!({ "url": url, "eventTypes": ["*"] });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let created = app
        .gql(Some(token), "mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }", json!({ "input": input }))
        .await;
    let created = &created.data()["createWebhookEndpoint"];
    (
        created["endpoint"]["id"].clone(),
        created["secret"].as_str().expect("secret").to_owned(),
    )
}

/// Writes a note about `contact` as `token`; returns its ID.
async fn note(app: &TestApp, token: &str, contact: &str, body: &str) -> Value {
    app.gql(
        Some(token),
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
        json!({ "input": { "contactId": contact, "body": body } }),
    )
    .await
    .data()["createNote"]["id"]
        .clone()
}

const LOG: &str = "query ($id: ID!, $filter: DeliveryFilter) { webhookDeliveries(endpointId: $id, filter: $filter) { edges { node {
    id messageId eventType status attemptCount nextAttemptAt lastStatusCode payload
    attempts { attempt outcome statusCode latencyMs error responseExcerpt } } } } }";

#[tokio::test]
async fn a_failed_attempt_is_retried_with_the_same_id_a_fresh_timestamp_and_a_valid_signature() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::answering(|_, n| {
        if n == 0 {
            (StatusCode::INTERNAL_SERVER_ERROR, "database down").into_response()
        } else {
            (StatusCode::OK, "thanks").into_response()
        }
    })
    .await;
    let (id, secret) = endpoint(
        &app,
        &owner,
        &receiver.url,
        json!({ "eventTypes": ["note.created"] }),
    )
    .await;
    let note_id = note(&app, &owner, &contact_id(w.contact), "Renewal call").await;

    let first = app.jobs.deliver_webhooks().await.expect("first pass");
    assert_eq!((first.succeeded, first.retrying), (0, 1));
    // Not due yet: nothing is sent again until the schedule says so.
    let early = app.jobs.deliver_webhooks().await.expect("early pass");
    assert_eq!(early.retrying + early.succeeded, 0);
    // The timestamp is in whole seconds: let one pass so the retry's is visibly fresh.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = app
        .jobs
        .deliver_webhooks_at(Utc::now() + Duration::seconds(10))
        .await
        .expect("second pass");
    assert_eq!(second.succeeded, 1);

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    for request in &got {
        assert!(request.signed_with(&secret), "signature of {request:?}");
        assert_eq!(request.header("content-type"), "application/json");
        assert!(
            request
                .header("user-agent")
                .starts_with("Threadline-Webhooks/")
        );
        assert_eq!(request.json()["type"], "note.created");
        assert_eq!(request.json()["data"]["id"], note_id);
    }
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].body, got[1].body);
    let (t0, t1): (i64, i64) = (
        got[0]
            .header("webhook-timestamp")
            .parse()
            .expect("unix seconds"),
        got[1]
            .header("webhook-timestamp")
            .parse()
            .expect("unix seconds"),
    );
    assert!(t1 > t0, "a fresh timestamp on the retry: {t0} then {t1}");

    // The log shows both attempts.
    let log = app.gql(Some(&owner), LOG, json!({ "id": id })).await;
    let delivery = &log.data()["webhookDeliveries"]["edges"][0]["node"];
    assert_eq!(delivery["status"], "SUCCEEDED");
    assert_eq!(delivery["attemptCount"], 2);
    assert_eq!(delivery["messageId"], got[0].header("webhook-id"));
    assert_eq!(delivery["lastStatusCode"], 200);
    let attempts = &delivery["attempts"];
    assert_eq!(attempts[0]["outcome"], "RETRY");
    assert_eq!(attempts[0]["statusCode"], 500);
    assert_eq!(attempts[0]["responseExcerpt"], "database down");
    assert_eq!(attempts[1]["outcome"], "DELIVERED");
    assert_eq!(attempts[1]["responseExcerpt"], "thanks");
    assert!(attempts[1]["latencyMs"].as_i64().is_some());
    // Filters: by status and event type.
    let none = app
        .gql(
            Some(&owner),
            LOG,
            json!({ "id": id, "filter": { "status": "FAILED" } }),
        )
        .await;
    assert_eq!(none.data()["webhookDeliveries"]["edges"], json!([]));
    app.gql(
        Some(&owner),
        LOG,
        json!({ "id": id, "filter": { "eventType": "note.archived" } }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    // A member may not read the log.
    app.gql(Some(&app.token(&w.member_admin)), LOG, json!({ "id": id }))
        .await
        .expect_code("FORBIDDEN");
}

#[tokio::test]
async fn old_and_new_secrets_both_sign_during_a_rotation_and_ed25519_verifies_with_the_public_key()
{
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::start().await;
    let (id, old) = endpoint(&app, &owner, &receiver.url, json!({})).await;
    let rotated = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            json!({ "id": id }),
        )
        .await;
    let new = rotated.data()["rotateWebhookSecret"]["secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    let signed = Receiver::start().await;
    let (_, public_key) =
        endpoint(&app, &owner, &signed.url, json!({ "signing": "ED25519" })).await;
    note(&app, &owner, &contact_id(w.contact), "Rotation").await;
    let done = app.jobs.deliver_webhooks().await.expect("pass");
    assert_eq!(done.succeeded, 2);

    let got = &receiver.received()[0];
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
    assert!(got.signed_with(&new), "the new secret signs");
    assert!(got.signed_with(&old), "the old secret still signs");

    let got = &signed.received()[0];
    let signature = got.header("webhook-signature");
    assert!(signature.starts_with("v1a,"), "{signature}");
    let verifier = Verifier::parse(&public_key).expect("a whpk_ key");
    let timestamp: i64 = got.header("webhook-timestamp").parse().expect("timestamp");
    verifier
        .verify(
            got.header("webhook-id"),
            timestamp,
            got.body.as_bytes(),
            signature,
            Utc::now().timestamp(),
        )
        .expect("the ed25519 signature verifies with the public key");
    let tampered = got.body.replace("Rotation", "Rotatiom");
    assert!(
        verifier
            .verify(
                got.header("webhook-id"),
                timestamp,
                tampered.as_bytes(),
                signature,
                Utc::now().timestamp()
            )
            .is_err()
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_retry_after_is_honoured() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let gone = Receiver::answering(|_, _| StatusCode::GONE.into_response()).await;
    let busy = Receiver::answering(|_, _| {
        let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("120"));
        response
    })
    .await;
    let (gone_id, _) = endpoint(&app, &owner, &gone.url, json!({})).await;
    let (busy_id, _) = endpoint(&app, &owner, &busy.url, json!({})).await;
    let cid = contact_id(w.contact);
    note(&app, &owner, &cid, "First").await;
    app.jobs.deliver_webhooks().await.expect("pass");

    let endpoints = app
        .gql(
            Some(&owner),
            "{ webhookEndpoints { edges { node { id enabled disabledReason failingSince } } } }",
            json!({}),
        )
        .await;
    let nodes = endpoints.data()["webhookEndpoints"]["edges"].clone();
    let find = |id: &Value| {
        nodes
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .find(|n| n["id"] == *id)
            .expect("endpoint")
    };
    assert_eq!(find(&gone_id)["enabled"], false);
    assert_eq!(find(&gone_id)["disabledReason"], "GONE");
    assert_eq!(find(&busy_id)["enabled"], true);
    assert!(find(&busy_id)["failingSince"].is_string());

    let log = app.gql(Some(&owner), LOG, json!({ "id": gone_id })).await;
    assert_eq!(
        log.data()["webhookDeliveries"]["edges"][0]["node"]["status"],
        "FAILED"
    );
    let log = app.gql(Some(&owner), LOG, json!({ "id": busy_id })).await;
    let delivery = &log.data()["webhookDeliveries"]["edges"][0]["node"];
    assert_eq!(delivery["status"], "PENDING");
    let next: chrono::DateTime<Utc> = delivery["nextAttemptAt"]
        .as_str()
        .expect("next attempt")
        .parse()
        .expect("time");
    let wait = (next - Utc::now()).num_seconds();
    assert!(
        (100..=121).contains(&wait),
        "Retry-After 120 honoured: {wait}s"
    );

    // A disabled endpoint is sent nothing more; an event after it is queued for the others.
    note(&app, &owner, &cid, "Second").await;
    app.jobs
        .deliver_webhooks_at(Utc::now() + Duration::seconds(125))
        .await
        .expect("pass");
    assert_eq!(gone.received().len(), 1);
    // The busy receiver got the first event again (its retry, due after 120 s) and the
    // second (another record, so not queued behind the first).
    let mut bodies: Vec<String> = busy
        .received()
        .iter()
        .map(|r| {
            r.json()["data"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["First", "First", "Second"]);
}

#[tokio::test]
async fn deliveries_about_one_record_arrive_in_order_under_random_failures() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    // A receiver failing about half the time, the same way on every run.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let receiver = Receiver::answering(move |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if seed.is_multiple_of(2) {
            StatusCode::OK.into_response()
        } else {
            StatusCode::BAD_GATEWAY.into_response()
        }
    })
    .await;
    endpoint(
        &app,
        &owner,
        &receiver.url,
        json!({ "eventTypes": ["note.*"], "maxInFlight": 8 }),
    )
    .await;
    let cid = contact_id(w.contact);
    let id = note(&app, &owner, &cid, "v0").await;
    for v in 1..=6 {
        app.gql(Some(&owner), "mutation ($id: ID!, $body: String!) { updateNote(id: $id, input: { body: $body }) { id } }",
            json!({ "id": id, "body": format!("v{v}") }))
            .await
            .data();
    }
    // Time moves on until every event is through (the schedule's first steps are seconds).
    let mut at = Utc::now();
    for _ in 0..40 {
        app.jobs.deliver_webhooks_at(at).await.expect("pass");
        at += Duration::minutes(10);
    }
    let got = receiver.received();
    let versions: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    // Every attempt of version k comes after every attempt of version k-1.
    let mut last_seen = 0;
    for v in &versions {
        let n: usize = v.trim_start_matches('v').parse().expect("version");
        assert!(n >= last_seen, "out of order: {versions:?}");
        last_seen = n;
    }
    assert_eq!(last_seen, 6, "every version arrived: {versions:?}");
    assert!(
        got.len() > 7,
        "some attempts failed and were retried: {versions:?}"
    );
}

#[tokio::test]
async fn redelivery_test_events_pruning_and_metrics() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::start().await;
    let (id, secret) = endpoint(
        &app,
        &owner,
        &receiver.url,
        json!({ "eventTypes": ["contact.created"] }),
    )
    .await;

    // A test event reaches the endpoint whatever its event types.
    let test = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!) { sendTestWebhook(endpointId: $id) { id eventType status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(test.data()["sendTestWebhook"]["eventType"], "webhook.test");
    assert_eq!(test.data()["sendTestWebhook"]["status"], "PENDING");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("threadline_webhook_queue_depth 1"),
        "{metrics}"
    );
    app.jobs.deliver_webhooks().await.expect("pass");
    assert_eq!(receiver.received()[0].json()["type"], "webhook.test");
    assert!(receiver.received()[0].signed_with(&secret));

    // A redelivery sends the same event again under the same webhook-id.
    let delivery = test.data()["sendTestWebhook"]["id"].clone();
    let again = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id status messageId } }",
            json!({ "id": delivery }),
        )
        .await;
    assert_ne!(again.data()["redeliverWebhook"]["id"], delivery);
    app.jobs.deliver_webhooks().await.expect("pass");
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].body, got[1].body);

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("threadline_webhook_attempts_total{outcome=\"delivered\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("threadline_webhook_queue_depth 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("threadline_webhook_attempt_duration_seconds_count 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("threadline_webhook_oldest_pending_seconds 0"),
        "{metrics}"
    );

    // Other organizations cannot redeliver or test.
    let foreign = app.token(&w.other_owner);
    app.gql(
        Some(&foreign),
        "mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
        json!({ "id": delivery }),
    )
    .await
    .expect_code("NOT_FOUND");
    app.gql(
        Some(&foreign),
        "mutation ($id: ID!) { sendTestWebhook(endpointId: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .expect_code("NOT_FOUND");

    // The log is kept for the retention (30 days by default), then pruned.
    assert_eq!(
        app.jobs
            .prune_webhook_log_at(Utc::now())
            .await
            .expect("prune"),
        0
    );
    assert_eq!(
        app.jobs
            .prune_webhook_log_at(Utc::now() + Duration::days(31))
            .await
            .expect("prune"),
        2
    );
    let log = app.gql(Some(&owner), LOG, json!({ "id": id })).await;
    assert_eq!(log.data()["webhookDeliveries"]["edges"], json!([]));
}

#[tokio::test]
async fn a_backlog_at_one_endpoints_cap_does_not_hold_up_other_endpoints() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    // A receiver that never answers, one delivery at a time, and a backlog of notes for it
    // larger than what one claim looks at (the process's slots, twice over).
    let hanging = receiver::silent().await;
    endpoint(
        &app,
        &owner,
        &hanging,
        json!({ "eventTypes": ["note.created"], "maxInFlight": 1 }),
    )
    .await;
    let cid = contact_id(w.contact);
    for n in 0..80 {
        note(&app, &owner, &cid, &format!("backlog {n}")).await;
    }
    // A healthy endpoint gets one event after the backlog.
    let healthy = Receiver::start().await;
    endpoint(
        &app,
        &owner,
        &healthy.url,
        json!({ "eventTypes": ["contact.updated"] }),
    )
    .await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateContact(id: $id, input: { name: \"Grace B. Hopper\" }) { id } }",
        json!({ "id": cid }),
    )
    .await
    .data();

    // One pass, with slots to spare: the hanging endpoint takes its one, the healthy one is sent
    // at once instead of waiting for the backlog ahead of it to drain.
    let pass = app
        .jobs
        .webhooks
        .pass_at(&app.db, Utc::now())
        .await
        .expect("pass");
    assert_eq!(pass.started, 2, "one to each endpoint");
    let waited = std::time::Instant::now();
    while healthy.received().is_empty() && waited.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let got = healthy.received();
    assert_eq!(got.len(), 1, "the healthy endpoint was held up");
    assert_eq!(got[0].json()["type"], "contact.updated");
}

#[tokio::test]
async fn an_endpoint_whose_due_deliveries_wait_behind_a_retry_does_not_hold_up_the_others() {
    // Two sending slots: after the capped endpoint's one, one is left to find.
    let app = spawn_app_with_config(|c| {
        c.webhook_allow_private = true;
        c.webhook_concurrency = 2;
    })
    .await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    // The first endpoint registered fails: its second update of a note is due but waits behind
    // the retry of the first.
    let failing = Receiver::answering(|_, _| StatusCode::BAD_GATEWAY.into_response()).await;
    endpoint(
        &app,
        &owner,
        &failing.url,
        json!({ "eventTypes": ["note.updated"] }),
    )
    .await;
    let healthy = Receiver::start().await;
    endpoint(
        &app,
        &owner,
        &healthy.url,
        json!({ "eventTypes": ["contact.updated"] }),
    )
    .await;
    let id = note(&app, &owner, &cid, "v0").await;
    let update = "mutation ($id: ID!, $body: String!) { updateNote(id: $id, input: { body: $body }) { id } }";
    app.gql(Some(&owner), update, json!({ "id": id, "body": "v1" }))
        .await
        .data();
    let first = app.jobs.deliver_webhooks().await.expect("first attempt");
    assert_eq!(first.retrying, 1);
    app.gql(Some(&owner), update, json!({ "id": id, "body": "v2" }))
        .await
        .data();
    // A hanging endpoint at its cap with a backlog, then an event for the healthy one.
    let hanging = receiver::silent().await;
    endpoint(
        &app,
        &owner,
        &hanging,
        json!({ "eventTypes": ["note.created"], "maxInFlight": 1 }),
    )
    .await;
    for n in 0..5 {
        note(&app, &owner, &cid, &format!("backlog {n}")).await;
    }
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateContact(id: $id, input: { name: \"Grace B. Hopper\" }) { id } }",
        json!({ "id": cid }),
    )
    .await
    .data();

    let pass = app
        .jobs
        .webhooks
        .pass_at(&app.db, Utc::now())
        .await
        .expect("pass");
    assert_eq!(
        pass.started, 2,
        "the hanging endpoint's one and the healthy one"
    );
    let waited = std::time::Instant::now();
    while healthy.received().is_empty() && waited.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(healthy.received().len(), 1);
    assert_eq!(failing.received().len(), 1, "v2 still waits behind v1");
}

#[tokio::test]
async fn two_workers_on_one_database_share_the_work_and_send_each_event_once() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receivers = [
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    ];
    for (receiver, cap) in receivers.iter().zip([1, 2, 8]) {
        endpoint(
            &app,
            &owner,
            &receiver.url,
            json!({ "eventTypes": ["note.created"], "maxInFlight": cap }),
        )
        .await;
    }
    let cid = contact_id(w.contact);
    let events = 60;
    for n in 0..events {
        note(&app, &owner, &cid, &format!("event {n}")).await;
    }
    // A second worker, as another gateway process would run, on the same database.
    let other = threadline::delivery::DeliverWebhooks::new(
        std::time::Duration::from_secs(15),
        8,
        webhooks::ssrf::Guard::new(true),
        std::sync::Arc::default(),
    )
    .expect("a second worker");
    let now = Utc::now();
    for _ in 0..50 {
        let (a, b) = tokio::join!(
            app.jobs.webhooks.drain_at(&app.db, now),
            other.drain_at(&app.db, now)
        );
        let (a, b) = (a.expect("first worker"), b.expect("second worker"));
        assert_eq!(a.retrying + a.failed + b.retrying + b.failed, 0);
        if a.succeeded + b.succeeded == 0 {
            break;
        }
    }
    for receiver in &receivers {
        let mut ids: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        assert_eq!(ids.len(), events, "every event, each once");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), events, "no event sent twice");
    }
}

#[tokio::test]
async fn the_queue_metrics_leave_out_what_a_disabled_endpoint_holds() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::start().await;
    let (id, _) = endpoint(&app, &owner, &receiver.url, json!({})).await;
    note(&app, &owner, &contact_id(w.contact), "Parked").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("threadline_webhook_queue_depth 1"),
        "{metrics}"
    );

    // Disabled (by a person here; by the gateway after a 410 or five failing days), the
    // endpoint's deliveries wait for it to be enabled again: no worker will send them, so they
    // are not a backlog that grows older.
    let toggle = "mutation ($id: ID!, $on: Boolean!) { updateWebhookEndpoint(id: $id, input: { enabled: $on }) { enabled } }";
    app.gql(Some(&owner), toggle, json!({ "id": id, "on": false }))
        .await
        .data();
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("threadline_webhook_queue_depth 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("threadline_webhook_oldest_pending_seconds 0"),
        "{metrics}"
    );

    app.gql(Some(&owner), toggle, json!({ "id": id, "on": true }))
        .await
        .data();
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("threadline_webhook_queue_depth 1"),
        "{metrics}"
    );
    app.jobs.deliver_webhooks().await.expect("pass");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_straight_is_disabled_and_enabling_it_resumes() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let switch = failing.clone();
    let receiver = Receiver::answering(move |_, _| {
        if switch.load(std::sync::atomic::Ordering::SeqCst) {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        } else {
            StatusCode::OK.into_response()
        }
    })
    .await;
    let (id, _) = endpoint(&app, &owner, &receiver.url, json!({})).await;
    let cid = contact_id(w.contact);
    let state = "query ($id: ID!) { webhookEndpoints { edges { node { id enabled disabledReason failingSince } } } webhookDeliveries(endpointId: $id) { edges { node { status } } } }";
    note(&app, &owner, &cid, "Day 0").await;
    let start = Utc::now();
    app.jobs.deliver_webhooks_at(start).await.expect("day 0");
    // Four days on, a new event fails too: still enabled, failing since day 0.
    note(&app, &owner, &cid, "Day 4").await;
    app.jobs
        .deliver_webhooks_at(start + Duration::days(4))
        .await
        .expect("day 4");
    let endpoints = app.gql(Some(&owner), state, json!({ "id": id })).await;
    let node = &endpoints.data()["webhookEndpoints"]["edges"][0]["node"];
    assert_eq!(node["enabled"], true);
    let since: chrono::DateTime<Utc> = node["failingSince"]
        .as_str()
        .expect("failing since")
        .parse()
        .expect("time");
    assert!((since - start).num_seconds().abs() < 5, "{since} {start}");
    // Past five days of failures: disabled, FAILING; nothing more is sent.
    app.jobs
        .deliver_webhooks_at(start + Duration::days(5) + Duration::hours(1))
        .await
        .expect("day 5");
    let endpoints = app.gql(Some(&owner), state, json!({ "id": id })).await;
    let node = &endpoints.data()["webhookEndpoints"]["edges"][0]["node"];
    assert_eq!(node["enabled"], false);
    assert_eq!(node["disabledReason"], "FAILING");
    let sent = receiver.received().len();
    app.jobs
        .deliver_webhooks_at(start + Duration::days(6))
        .await
        .expect("day 6");
    assert_eq!(
        receiver.received().len(),
        sent,
        "a disabled endpoint is sent nothing"
    );

    // Enabled again (the receiver fixed), its queue resumes and its health is clean.
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { enabled disabledReason failingSince } }",
        json!({ "id": id }),
    )
    .await
    .data();
    let done = app
        .jobs
        .deliver_webhooks_at(start + Duration::days(6))
        .await
        .expect("resumed");
    assert!(done.succeeded >= 1, "{done:?}");
    let endpoints = app.gql(Some(&owner), state, json!({ "id": id })).await;
    let node = &endpoints.data()["webhookEndpoints"]["edges"][0]["node"];
    assert_eq!(node["enabled"], true);
    assert_eq!(node["disabledReason"], Value::Null);
    assert_eq!(node["failingSince"], Value::Null);
}

/// The indexes a worker may read deliveries through: the partial ones, which hold only open
/// deliveries (never the log kept for the retention), and the primary key (one row each).
const WORKER_INDEXES: &[&str] = &[
    "webhook_deliveries_due_idx",
    "webhook_deliveries_record_idx",
    "webhook_deliveries_sending_idx",
    "webhook_deliveries_pkey",
];

/// The statements `db` runs while `work` runs on it (through a clone of the connection with a
/// statement callback of its own).
async fn statements_of<F, Fut>(db: &DatabaseConnection, work: F) -> Vec<Statement>
where
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let seen: Arc<Mutex<Vec<Statement>>> = Arc::default();
    let mut probe = db.clone();
    {
        let seen = seen.clone();
        probe.set_metric_callback(move |info| {
            seen.lock().expect("seen").push(info.statement.clone());
        });
    }
    work(probe).await;
    seen.lock().expect("seen").clone()
}

/// How the worker's `statements` read `webhook_deliveries`, replayed in order in one
/// transaction that is rolled back (so a `SET LOCAL` among them applies to those after it):
/// for each statement that mentions the table, what is wrong with its plan (a full scan, an
/// index that holds the delivery log, sorting what it read) and, on PostgreSQL, how many rows
/// of the table it read (the transaction's counters).
async fn replay(
    db: &DatabaseConnection,
    statements: &[Statement],
) -> Vec<(String, Vec<String>, i64)> {
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let txn = db.begin().await.expect("begin");
    let mut found = Vec::new();
    for statement in statements {
        let sql = statement.sql.trim();
        if sql.starts_with("SET ") {
            txn.execute_raw(statement.clone())
                .await
                .expect("replay a setting");
            continue;
        }
        if !sql.contains("webhook_deliveries") {
            continue;
        }
        let explain = |prefix: &str| {
            Statement::from_sql_and_values(
                backend,
                format!("{prefix} {sql}"),
                statement.values.clone().map(|v| v.0).unwrap_or_default(),
            )
        };
        let mut problems = Vec::new();
        let mut rows_read = 0;
        if postgres {
            let row = txn
                .query_one_raw(explain("EXPLAIN (FORMAT JSON)"))
                .await
                .expect("explain")
                .expect("a plan");
            let plan: Value = row.try_get("", "QUERY PLAN").expect("the plan as JSON");
            let mut nodes = vec![plan[0]["Plan"].clone()];
            while let Some(node) = nodes.pop() {
                let on_deliveries = node["Relation Name"] == "webhook_deliveries";
                if on_deliveries && node["Node Type"] == "Seq Scan" {
                    problems.push(format!("a sequential scan: {node}"));
                }
                if let Some(index) = node["Index Name"].as_str()
                    && index.starts_with("webhook_deliveries")
                    && !WORKER_INDEXES.contains(&index)
                {
                    problems.push(format!("the index {index}, which holds the log"));
                }
                nodes.extend(node["Plans"].as_array().cloned().unwrap_or_default());
            }
            let counters = Statement::from_string(
                DbBackend::Postgres,
                "SELECT (COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0))::bigint AS n \
                 FROM pg_stat_xact_user_tables WHERE relname = 'webhook_deliveries'",
            );
            let count = |row: Option<sea_orm::QueryResult>| {
                row.map_or(0, |r| r.try_get::<i64>("", "n").expect("n"))
            };
            let before = count(txn.query_one_raw(counters.clone()).await.expect("counters"));
            txn.execute_raw(statement.clone()).await.expect("replay");
            let after = count(txn.query_one_raw(counters).await.expect("counters"));
            rows_read = after - before;
        } else {
            for row in txn
                .query_all_raw(explain("EXPLAIN QUERY PLAN"))
                .await
                .expect("explain")
            {
                let detail: String = row.try_get("", "detail").expect("detail");
                if detail.contains("TEMP B-TREE FOR ORDER BY") {
                    problems.push(format!("{detail:?}: it sorts what it read"));
                }
                let mut words = detail.split_whitespace();
                let (Some(how), Some(what)) = (words.next(), words.next()) else {
                    continue;
                };
                // The worker's statements name the table `d` and `p`, or by its name.
                let deliveries = matches!(what, "d" | "p" | "webhook_deliveries");
                if !deliveries || !matches!(how, "SCAN" | "SEARCH") {
                    continue;
                }
                let through_worker_index = WORKER_INDEXES
                    .iter()
                    .any(|index| detail.contains(&format!("INDEX {index}")))
                    || detail.contains("INTEGER PRIMARY KEY");
                if !through_worker_index {
                    problems.push(format!("{detail:?}"));
                }
            }
        }
        found.push((sql.to_owned(), problems, rows_read));
    }
    txn.rollback().await.expect("rollback");
    found
}

/// A worker looks for due deliveries once a second and after every send, and records every
/// attempt: none of its statements may read the delivery log kept for the retention. Checked
/// by the plans the database chooses with a log of 200,000 delivered events (and, on
/// PostgreSQL, by the rows the statements read), not by the time they take.
#[tokio::test]
async fn a_claim_reads_what_is_due_not_the_delivery_log() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::start().await;
    endpoint(&app, &owner, &receiver.url, json!({})).await;
    note(&app, &owner, &contact_id(w.contact), "Delivered").await;
    app.jobs.deliver_webhooks().await.expect("pass");
    // The log of a busy month (kept for the retention): 200,000 delivered events.
    let delivered = webhook_delivery::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("the delivery");
    assert_eq!(delivered.status, "SUCCEEDED");
    let rows: Vec<webhook_delivery::ActiveModel> = (0..200_000)
        .map(|n| {
            let mut row: webhook_delivery::ActiveModel = delivered.clone().into();
            row.id = NotSet;
            row.record_key = Set(format!("Note:{}", 1_000_000 + n));
            row
        })
        .collect();
    for chunk in rows.chunks(1000) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("log rows");
    }
    let postgres = app.db.get_database_backend() == DbBackend::Postgres;
    if postgres {
        // What autovacuum does after such a load: the planner knows the table.
        app.db
            .execute_unprepared("ANALYZE webhook_deliveries")
            .await
            .expect("analyze");
    }

    // With nothing due, a look; then, with something to send, the claim (counting what is in
    // flight to the endpoint) and the attempt recorded by the next pass.
    let (worker, writer, token) = (&app.jobs.webhooks, &app, &owner);
    let contact = contact_id(w.contact);
    let statements = statements_of(&app.db, |probe| async move {
        let pass = worker.pass_at(&probe, Utc::now()).await.expect("pass");
        assert_eq!(pass.started, 0);
        note(writer, token, &contact, "Busy").await;
        let pass = worker.pass_at(&probe, Utc::now()).await.expect("pass");
        assert_eq!(pass.started, 1);
        let drained = worker.drain_at(&probe, Utc::now()).await.expect("the rest");
        assert_eq!(drained.succeeded, 1);
    })
    .await;
    assert_eq!(receiver.received().len(), 2);

    let replayed = replay(&app.db, &statements).await;
    let kinds = |word: &str| replayed.iter().filter(|(s, ..)| s.contains(word)).count();
    assert!(kinds("SELECT d.*") >= 2, "claims seen: {statements:#?}");
    assert!(kinds("UPDATE webhook_deliveries") >= 2, "{statements:#?}");
    for (sql, problems, read) in &replayed {
        assert!(
            problems.is_empty(),
            "{sql} reads the delivery log: {problems:?}"
        );
        assert!(
            *read < 100,
            "{sql} read {read} deliveries beside a log of 200,000"
        );
    }
}

/// A claim takes the oldest due deliveries through the due index in its order, reading about
/// as many as it takes: a backlog of thousands costs a claim of one no more than a backlog of
/// one (PostgreSQL would otherwise read every due delivery and sort them whenever its
/// statistics say few are due, as for a new table or after a burst).
#[tokio::test]
async fn a_claim_reads_about_what_it_takes_not_the_backlog() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::start().await;
    endpoint(
        &app,
        &owner,
        &receiver.url,
        json!({ "eventTypes": ["note.created"], "maxInFlight": 1 }),
    )
    .await;
    note(&app, &owner, &contact_id(w.contact), "First").await;
    let pending = webhook_delivery::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("the delivery");
    // 3,000 more due, each its own record.
    let rows: Vec<webhook_delivery::ActiveModel> = (0..3_000)
        .map(|n| {
            let mut row: webhook_delivery::ActiveModel = pending.clone().into();
            row.id = NotSet;
            row.record_key = Set(format!("Note:{}", 1_000_000 + n));
            row
        })
        .collect();
    for chunk in rows.chunks(1000) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("backlog rows");
    }
    let worker = &app.jobs.webhooks;
    let statements = statements_of(&app.db, |probe| async move {
        let pass = worker.pass_at(&probe, Utc::now()).await.expect("pass");
        assert_eq!((pass.claimed, pass.started), (1, 1), "the endpoint's cap");
    })
    .await;
    let replayed = replay(&app.db, &statements).await;
    assert!(
        replayed.iter().any(|(sql, ..)| sql.contains("SELECT d.*")),
        "{statements:#?}"
    );
    for (sql, problems, read) in &replayed {
        assert!(problems.is_empty(), "{sql}: {problems:?}");
        assert!(*read < 50, "{sql} read {read} deliveries to claim one");
    }
}

#[tokio::test]
async fn pruning_the_log_and_deleting_an_endpoint_stay_quick_with_a_large_log() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let receiver = Receiver::start().await;
    let (id, _) = endpoint(&app, &owner, &receiver.url, json!({})).await;
    note(&app, &owner, &contact_id(w.contact), "Delivered").await;
    app.jobs.deliver_webhooks().await.expect("pass");
    let delivered = webhook_delivery::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("the delivery");
    // A log past its retention (10,000 deliveries finished 40 days ago, their attempts already
    // pruned) beside a recent one (10,000 deliveries with an attempt each).
    let now = Utc::now();
    let copies = |finished: chrono::DateTime<Utc>, key: i64| {
        (0..10_000)
            .map(|n| {
                let mut row: webhook_delivery::ActiveModel = delivered.clone().into();
                row.id = NotSet;
                row.record_key = Set(format!("Note:{}", key + n));
                row.created_at = Set(finished);
                row.finished_at = Set(Some(finished));
                row
            })
            .collect::<Vec<_>>()
    };
    let old = copies(now - Duration::days(40), 1_000_000);
    let recent = copies(now, 2_000_000);
    for chunk in old.chunks(1000).chain(recent.chunks(1000)) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("log rows");
    }
    app.db
        .execute_unprepared(
            "INSERT INTO webhook_attempts (organization_id, delivery_id, endpoint_id, attempt, \
             attempted_at, outcome, latency_ms) SELECT organization_id, id, endpoint_id, 1, \
             created_at, 'DELIVERED', 1 FROM webhook_deliveries WHERE record_key LIKE 'Note:2%'",
        )
        .await
        .expect("attempt rows");

    // The hourly prune removes the old deliveries (each one's attempts are looked up to go with
    // it) without reading the whole attempt log for each.
    let started = std::time::Instant::now();
    app.jobs.prune_webhook_log_at(now).await.expect("prune");
    let pruning = started.elapsed();
    let left = webhook_delivery::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(left, 10_001, "the recent log and the first delivery stay");
    assert!(
        pruning < std::time::Duration::from_secs(1),
        "pruning took {pruning:?}"
    );

    // Deleting the endpoint takes its deliveries and their attempts with it, as quickly.
    let started = std::time::Instant::now();
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .data();
    let deleting = started.elapsed();
    assert!(
        deleting < std::time::Duration::from_secs(1),
        "deleting took {deleting:?}"
    );
    assert_eq!(
        webhook_delivery::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn an_endpoint_deleted_while_its_delivery_is_in_flight_goes_with_its_log() {
    let app = spawn_app_with_config(|c| {
        c.webhook_allow_private = true;
        c.webhook_timeout = std::time::Duration::from_millis(500);
    })
    .await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let hanging = receiver::silent().await;
    let (id, _) = endpoint(&app, &owner, &hanging, json!({})).await;
    let healthy = Receiver::start().await;
    endpoint(
        &app,
        &owner,
        &healthy.url,
        json!({ "eventTypes": ["note.created"] }),
    )
    .await;
    let cid = contact_id(w.contact);
    note(&app, &owner, &cid, "In flight").await;
    let pass = app
        .jobs
        .webhooks
        .pass_at(&app.db, Utc::now())
        .await
        .expect("pass");
    assert_eq!(pass.started, 2);
    // Deleted while its attempt waits for the receiver.
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .data();
    // The attempt times out; there is nothing left to record it on, and the worker carries on.
    app.jobs
        .deliver_webhooks()
        .await
        .expect("the worker carries on");
    note(&app, &owner, &cid, "After").await;
    let done = app.jobs.deliver_webhooks().await.expect("pass");
    assert_eq!(done.succeeded, 1);
    assert_eq!(healthy.received().len(), 2);
    let endpoint_row = |id: &Value| {
        let id = id.as_str().expect("id");
        threadline::ids::decode(threadline::ids::Kind::WebhookEndpoint, id).expect("row id")
    };
    let gone = endpoint_row(&id);
    let left = webhook_delivery::Entity::find()
        .all(&app.db)
        .await
        .expect("deliveries");
    assert!(left.iter().all(|d| d.endpoint_id != gone), "{left:?}");
    let attempts = entity::webhook_attempt::Entity::find()
        .all(&app.db)
        .await
        .expect("attempts");
    assert!(
        attempts.iter().all(|a| a.endpoint_id != gone),
        "{attempts:?}"
    );
}

/// A receiver that answers 200 after `delay` and notes the most requests it had at once.
#[derive(Clone, Default)]
struct Concurrency {
    now: Arc<Mutex<(usize, usize, usize)>>,
}

impl Concurrency {
    async fn start(delay: std::time::Duration) -> (Self, String) {
        let this = Self::default();
        let state = this.clone();
        let app = axum::Router::new().fallback(move || {
            let state = state.clone();
            async move {
                {
                    let mut now = state.now.lock().expect("counts");
                    now.0 += 1;
                    now.1 = now.1.max(now.0);
                    now.2 += 1;
                }
                tokio::time::sleep(delay).await;
                state.now.lock().expect("counts").0 -= 1;
                StatusCode::OK
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (this, url)
    }

    /// (the most at once, how many in all)
    fn seen(&self) -> (usize, usize) {
        let now = self.now.lock().expect("counts");
        (now.1, now.2)
    }
}

/// A worker keeps deliveries queued behind its sends to a receiver that answers quickly (so
/// the next request goes out without waiting for the database); the endpoint's cap still
/// bounds the requests under way over two workers doing so.
#[tokio::test]
async fn workers_that_queue_ahead_keep_within_the_endpoints_cap_together() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let (receiver, url) = Concurrency::start(std::time::Duration::from_millis(3)).await;
    let cap = 4;
    endpoint(
        &app,
        &owner,
        &url,
        json!({ "eventTypes": ["note.created"], "maxInFlight": cap }),
    )
    .await;
    let other = threadline::delivery::DeliverWebhooks::new(
        std::time::Duration::from_secs(15),
        32,
        webhooks::ssrf::Guard::new(true),
        Arc::default(),
    )
    .expect("a second worker");
    // Each worker times an answer and a pass first.
    for worker in [&app.jobs.webhooks, &other] {
        note(&app, &owner, &cid, "warm-up").await;
        let done = worker.drain_at(&app.db, Utc::now()).await.expect("drain");
        assert_eq!(done.succeeded, 1);
    }
    let events = 120;
    for n in 0..events {
        note(&app, &owner, &cid, &format!("event {n}")).await;
    }
    // The receiver answers faster than a pass takes: the worker claims more than it sends.
    let pass = app
        .jobs
        .webhooks
        .pass_at(&app.db, Utc::now())
        .await
        .expect("pass");
    assert_eq!(pass.started, cap);
    assert!(pass.claimed > pass.started, "{pass:?}");
    let now = Utc::now();
    let mut succeeded = 0;
    for _ in 0..50 {
        let (a, b) = tokio::join!(
            app.jobs.webhooks.drain_at(&app.db, now),
            other.drain_at(&app.db, now)
        );
        let (a, b) = (a.expect("first worker"), b.expect("second worker"));
        assert_eq!(a.retrying + a.failed + b.retrying + b.failed, 0);
        succeeded += a.succeeded + b.succeeded;
        if a.total() + b.total() + a.released + b.released == 0 {
            break;
        }
    }
    assert_eq!(succeeded, events);
    let (most, all) = receiver.seen();
    assert_eq!(all, events + 2, "every event once");
    assert!(
        most <= cap,
        "{most} requests at once to an endpoint capped at {cap}"
    );
    let open = webhook_delivery::Entity::find()
        .all(&app.db)
        .await
        .expect("deliveries")
        .into_iter()
        .filter(|d| d.status != "SUCCEEDED")
        .count();
    assert_eq!(open, 0);
}

/// After a 410 a worker sends the endpoint nothing more: what its lane had queued goes back to
/// waiting, unattempted, and is sent once the endpoint is enabled again.
#[tokio::test]
async fn after_a_410_the_deliveries_a_worker_had_queued_wait_unattempted() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gone_after = 20;
    let receiver = {
        let gone = gone.clone();
        Receiver::answering(move |_, n| {
            if n >= gone_after && !gone.load(std::sync::atomic::Ordering::SeqCst) {
                StatusCode::GONE.into_response()
            } else {
                StatusCode::OK.into_response()
            }
        })
        .await
    };
    let cap = 4;
    let (id, _) = endpoint(
        &app,
        &owner,
        &receiver.url,
        json!({ "eventTypes": ["note.created"], "maxInFlight": cap }),
    )
    .await;
    let events = 60;
    for n in 0..events {
        note(&app, &owner, &cid, &format!("event {n}")).await;
    }
    let done = app.jobs.deliver_webhooks().await.expect("drain");
    assert_eq!(done.succeeded, gone_after);
    // The 410 and the requests already under way beside it, nothing after.
    assert!(
        (1..=cap).contains(&done.failed),
        "{done:?}: more requests than were under way when the 410 came"
    );
    let rows = webhook_delivery::Entity::find()
        .all(&app.db)
        .await
        .expect("deliveries");
    assert!(
        rows.iter().all(|d| d.status != "SENDING"),
        "nothing left claimed"
    );
    let waiting: Vec<_> = rows.iter().filter(|d| d.status == "PENDING").collect();
    assert_eq!(waiting.len(), events - gone_after - done.failed);
    assert!(
        waiting.iter().all(|d| d.attempts == 0),
        "a delivery given back unsent counts no attempt"
    );
    assert_eq!(receiver.received().len(), gone_after + done.failed);

    // Enabled again (the receiver is back), the rest goes out.
    gone.store(true, std::sync::atomic::Ordering::SeqCst);
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { enabled } }",
        json!({ "id": id }),
    )
    .await
    .data();
    let done = app.jobs.deliver_webhooks().await.expect("drain");
    assert_eq!(done.succeeded, waiting.len());
}

/// A worker stopped in the middle of a backlog records the attempts it made and gives back
/// what it had claimed but not sent: nothing stays claimed by a worker that is gone.
#[tokio::test]
async fn a_stopped_worker_records_its_attempts_and_gives_back_the_rest() {
    let app = app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let (receiver, url) = Concurrency::start(std::time::Duration::from_millis(2)).await;
    endpoint(
        &app,
        &owner,
        &url,
        json!({ "eventTypes": ["note.created"], "maxInFlight": 2 }),
    )
    .await;
    let events = 150;
    for n in 0..events {
        note(&app, &owner, &cid, &format!("event {n}")).await;
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut jobs = app.jobs.spawn(&cancel);
    let waited = std::time::Instant::now();
    while receiver.seen().1 < 30 && waited.elapsed() < std::time::Duration::from_secs(30) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    cancel.cancel();
    while let Some(done) = jobs.join_next().await {
        done.expect("a job");
    }
    let sent = receiver.seen().1;
    assert!(sent >= 30);
    let rows = webhook_delivery::Entity::find()
        .all(&app.db)
        .await
        .expect("deliveries");
    assert!(
        rows.iter().all(|d| d.status != "SENDING"),
        "nothing left claimed"
    );
    let succeeded = rows.iter().filter(|d| d.status == "SUCCEEDED").count();
    assert_eq!(succeeded, sent, "every request recorded");
    assert!(
        rows.iter()
            .filter(|d| d.status == "PENDING")
            .all(|d| d.attempts == 0)
    );
    let attempts = entity::webhook_attempt::Entity::find()
        .count(&app.db)
        .await
        .expect("attempts");
    assert_eq!(usize::try_from(attempts).ok(), Some(sent));
    // What was given back goes out with the next pass.
    let done = app.jobs.deliver_webhooks().await.expect("drain");
    assert_eq!(done.succeeded, events - sent);
}
