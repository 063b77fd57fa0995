//! The web page's files: served without a token at `/` and `/ui/*`, each with its content
//! type, a strict Content-Security-Policy, nosniff, and an ETag that answers 304.

mod support;

use reqwest::StatusCode;
use support::TestApi;

#[tokio::test]
async fn the_page_is_served_without_a_token_with_its_content_types_and_a_strict_policy() {
    let api = TestApi::start().await;
    let http = reqwest::Client::new();
    for (path, content_type, starts) in [
        ("/", "text/html; charset=utf-8", "<!doctype html>"),
        ("/ui/app.js", "text/javascript; charset=utf-8", "// app.js"),
        ("/ui/app.css", "text/css; charset=utf-8", "/* app.css"),
    ] {
        let a = http
            .get(format!("{}{path}", api.url))
            .send()
            .await
            .expect(path);
        assert_eq!(a.status(), StatusCode::OK, "{path}");
        let h = a.headers().clone();
        assert_eq!(h["content-type"], content_type, "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        let csp = h["content-security-policy"].to_str().expect("csp");
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let body = a.text().await.expect("body");
        assert!(body.starts_with(starts), "{path}: {}", &body[..40]);

        let again = http
            .get(format!("{}{path}", api.url))
            .header("If-None-Match", &h["etag"])
            .send()
            .await
            .expect(path);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let missing = http
        .get(format!("{}/ui/..%2fCargo.toml", api.url))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers()["content-type"],
        "application/json",
        "the API's error shape"
    );
}
