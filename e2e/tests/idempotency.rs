//! `Idempotency-Key` on `POST /jobs`: a client that retries a create (its answer was lost, say)
//! gets the job the first request made, never a second one; the same key with another body is
//! refused. Keys are the owner's own.

use base64::Engine;
use distcron_e2e::TestCluster;
use distcron_e2e::checks::id_of;
use serde_json::json;

#[tokio::test]
async fn the_same_key_and_body_create_one_job_and_another_body_is_refused() {
    let cluster = TestCluster::start().await;
    let alice = cluster.user("alice", false).await;
    let bob = cluster.user("bob", false).await;
    let body = json!({"type": "command", "schedule": "@hourly", "executable": "echo hi"});
    let key = [("Idempotency-Key", "create-7f3a")];

    let first = alice.post_with("/jobs", &body, &key).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = alice.post_with("/jobs", &body, &key).await;
    assert_eq!(again.status, 201, "the same answer: {}", again.body);
    assert_eq!(id_of(&again.body), id_of(&first.body));
    let listed = alice.get("/jobs").await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );

    let other = json!({"type": "command", "schedule": "@daily", "executable": "echo hi"});
    let reused = alice.post_with("/jobs", &other, &key).await;
    assert_eq!(reused.status, 422, "{}", reused.body);
    assert_eq!(
        reused.body["code"], "idempotency_key_reused",
        "{}",
        reused.body
    );
    assert!(
        reused.error().contains(&id_of(&first.body)),
        "names the job the key made: {}",
        reused.body
    );

    // Edited since, the job is still what the key made: a replay of the first request gets it
    // as it now is, not a refusal.
    let edited = alice
        .patch(
            &format!("/jobs/{}", id_of(&first.body)),
            &json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let replayed = alice.post_with("/jobs", &body, &key).await;
    assert_eq!(replayed.status, 201, "{}", replayed.body);
    assert_eq!(id_of(&replayed.body), id_of(&first.body));
    assert_eq!(replayed.body["name"], "renamed", "{}", replayed.body);

    // Another owner's key space is its own.
    let bobs = bob.post_with("/jobs", &body, &key).await;
    assert_eq!(bobs.status, 201, "{}", bobs.body);
    assert_ne!(id_of(&bobs.body), id_of(&first.body));

    // An uploaded script, twice with its key: one job.
    let script = json!({
        "type": "script", "schedule": "@hourly",
        "content": base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n"),
    });
    let upload = [("Idempotency-Key", "upload-1")];
    let a = alice.post_with("/jobs", &script, &upload).await;
    let b = alice.post_with("/jobs", &script, &upload).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(b.status, 201, "{}", b.body);
    assert_eq!(id_of(&a.body), id_of(&b.body));

    for bad in ["", "has space", &"k".repeat(256)] {
        let refused = alice
            .post_with("/jobs", &body, &[("Idempotency-Key", bad)])
            .await;
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.body);
        assert_eq!(refused.body["code"], "invalid_idempotency_key");
    }
}
