//! Times at the ends of what RFC 3339 can write (years 0 to 9999) are answered in RFC 3339,
//! as the document's `date-time`s say: no `+10000-...` fire time, no `-0001-...` window.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::TestApi;

/// Every string of `v` that looks like a time, by its JSON pointer: `(pointer, text)`.
fn times(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| times(v, &format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| times(v, &format!("{at}/{i}"), out)),
        Value::String(s) if s.contains(':') && s.contains('T') => out.push((at.into(), s.clone())),
        _ => {}
    }
}

#[tokio::test]
async fn times_at_the_ends_of_rfc_3339_are_answered_in_rfc_3339() {
    let api = TestApi::start().await;
    let job = api.insert_job("admin").await;
    let token = &api.admin_token;
    let answers = [
        api.get(
            "/schedule/preview?schedule=0%200%2029%202%20*&after=9990-01-01T00:00:00Z&count=10",
            token,
        )
        .await,
        api.get(
            "/schedule/preview?schedule=*%20*%20*%20*%20*&after=9999-12-31T23:59:30Z",
            token,
        )
        .await,
        api.get(&format!("/jobs/{job}/ticks?to=0000-01-01T00:30:00Z"), token)
            .await,
        api.get(
            &format!("/jobs/{job}/ticks?from=9999-12-31T23:00:00Z&to=9999-12-31T23:59:59Z"),
            token,
        )
        .await,
    ];
    for a in answers {
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let mut found = Vec::new();
        times(&a.body, "", &mut found);
        assert!(!found.is_empty(), "{}", a.body);
        for (at, text) in found {
            assert!(
                chrono::DateTime::parse_from_rfc3339(&text).is_ok(),
                "{at}: `{text}` is not RFC 3339, in {}",
                a.body
            );
        }
    }
}
