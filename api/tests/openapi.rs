//! `GET /openapi.json`: a valid OpenAPI 3.1 document, served without a token, that describes
//! every route the API has, and every answer the in-process API gives to a call of each.
//!
//! `oas-3.1-schema.json` is the OpenAPI Initiative's schema of 3.1 documents
//! (OAI/OpenAPI-Specification, branch v3.1-dev, `src/schemas/validation/schema.yaml` at
//! ddb29a7, Apache-2.0, converted to JSON); it leaves Schema Objects to JSON Schema 2020-12's
//! own meta-schema, which is checked here as well.

mod support;

use distcron_core::internal::ErrorKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::{Reply, TestApi};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The document, as served.
async fn document(api: &TestApi) -> Value {
    let a = api.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

/// `(method, path, operation)` of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_string(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1_and_served_without_a_token() {
    let api = TestApi::start().await;
    let doc = document(&api).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc,
        *distcron_api::openapi::document_json(),
        "what is served is the document the code builds"
    );

    let oas: Value = serde_json::from_str(include_str!("oas-3.1-schema.json")).expect("schema");
    let validator = jsonschema::draft202012::new(&oas).expect("the OpenAPI 3.1 schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not OpenAPI 3.1: {errors:#?}");

    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        assert!(
            jsonschema::draft202012::meta::is_valid(schema),
            "schema {name} is not JSON Schema 2020-12: {schema}"
        );
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let pointer = r.strip_prefix('#').expect("a local $ref");
        assert!(doc.pointer(pointer).is_some(), "{r} resolves to nothing");
    }
}

#[tokio::test]
async fn every_operation_names_its_parameters_its_answers_and_the_error_shape() {
    let api = TestApi::start().await;
    let doc = document(&api).await;
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let what = format!("{} {path}", method.to_uppercase());
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_string()), "{what}: operationId {id} twice");
        assert!(op["summary"].is_string(), "{what}: no summary");
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("name").to_string())
            .collect();
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_string)
            .collect();
        assert_eq!(declared, templated, "{what}: path parameters");

        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what}: no success answer"
        );
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        let public = ["/healthz", "/metrics", "/openapi.json"].contains(&path.as_str());
        assert_eq!(secured, !public, "{what}: bearer token");
        assert_eq!(responses.contains_key("401"), secured, "{what}: 401");
        for status in ["429", "500", "502", "503", "504"] {
            assert!(responses.contains_key(status), "{what}: no {status}");
        }
        for (status, response) in responses {
            if status.starts_with('2') || path == "/readyz" && status == "503" {
                continue;
            }
            let mut named = Vec::new();
            refs(response, &mut named);
            assert!(
                named.iter().any(|r| r == "#/components/schemas/ErrorBody")
                    || named
                        .iter()
                        .any(|r| r.starts_with("#/components/responses/")),
                "{what} {status}: not the error shape: {response}"
            );
        }
    }
    let shared = &doc["components"]["responses"];
    assert_eq!(
        shared["Unauthorized"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );
}

/// A value for each path parameter: ids nobody has, a name nobody has.
fn fill(path: &str) -> String {
    path.replace("{id}", "00000000-0000-7000-8000-000000000000")
        .replace("{name}", "nobody")
}

#[tokio::test]
async fn every_operation_is_routed_and_answers_as_documented() {
    let api = TestApi::start_with(|s| s.leader_wait_ms = 600).await;
    let _leader = api
        .stub_leader(Reply::Refuse(ErrorKind::NotFound, "stub".into()))
        .await;
    let doc = document(&api).await;
    for (method, path, op) in operations(&doc) {
        let what = format!("{} {path}", method.to_uppercase());
        let method: Method = method.to_uppercase().parse().expect("method");
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let query = if path == "/schedule/preview" {
            "?schedule=@hourly"
        } else {
            ""
        };
        let url = format!("{}{query}", fill(&path));
        let a = api
            .request(method, &url, Some(&api.admin_token), body.as_ref())
            .await;
        let message = a.body["error"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("no such route") && a.status != StatusCode::METHOD_NOT_ALLOWED,
            "{what} is in the document but not routed: {} {}",
            a.status,
            a.body
        );
        let documented = op["responses"]
            .as_object()
            .expect("responses")
            .contains_key(a.status.as_str());
        assert!(
            documented,
            "{what} answered {} {}: undocumented",
            a.status, a.body
        );
    }
}

#[tokio::test]
async fn the_api_has_no_route_the_document_does_not_describe() {
    let api = TestApi::start().await;
    let doc = document(&api).await;
    // On a documented path, no other method is routed.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS.into_iter().filter(|m| item.get(*m).is_none()) {
            let m: Method = method.to_uppercase().parse().expect("method");
            let a = api
                .request(m, &fill(path), Some(&api.admin_token), None)
                .await;
            assert_eq!(
                a.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: routed but undocumented: {}",
                a.body
            );
        }
    }
    // No other path: every route is added through `routes!` (`routes::api_routes`), which
    // takes documented handlers only; a route added otherwise would be found here.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // The one exception: `ui.rs` routes the web page's static files (`/`, `/ui/*`),
            // which are not API routes and so not in the document.
            if path.file_name().is_some_and(|n| n == "ui.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                    assert!(
                        !code.contains(call),
                        "{}:{}: `{call}` adds a route without its document: use `routes!`",
                        path.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

/// The code (`[a-z0-9_]+`) `text` starts with.
fn code_at(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_string())
}

/// The quoted codes that follow `marker` in `text` (whitespace between them skipped).
fn quoted_after(text: &str, marker: &str) -> Vec<String> {
    text.split(marker)
        .skip(1)
        .filter_map(|rest| code_at(rest.trim_start().strip_prefix('"')?))
        .collect()
}

#[tokio::test]
async fn every_error_code_the_api_or_haproxy_answers_with_is_documented() {
    let api = TestApi::start().await;
    let doc = document(&api).await;
    let documented: BTreeSet<String> =
        doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
            .as_array()
            .expect("the codes")
            .iter()
            .map(|c| c.as_str().expect("a code").to_string())
            .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                // The one exception: `ui.rs` routes the web page's static files (`/`, `/ui/*`),
                // which are not API routes and so not in the document.
                if path.file_name().is_some_and(|n| n == "ui.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source");
                used.extend(quoted_after(&text, "bad_request("));
                used.extend(quoted_after(&text, "code:"));
                // `ApiError::parts`: `Variant => (StatusCode::..., "code")`.
                for line in text.lines().filter(|l| l.contains("=> (StatusCode::")) {
                    used.extend(quoted_after(line, ","));
                }
            }
        }
    }
    let haproxy =
        std::fs::read_to_string(root.join("../haproxy/haproxy.cfg")).expect("haproxy.cfg");
    let marker = r#"\"code\": \""#;
    used.extend(haproxy.split(marker).skip(1).filter_map(code_at));
    assert!(used.len() > 20, "the scan found too few codes: {used:?}");
    let undocumented: Vec<_> = used.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "codes not in the document: {undocumented:?}"
    );
}

/// The bounds the document states for a job's fields, and those `JobSpec::validate` enforces.
#[tokio::test]
async fn the_documented_bounds_are_the_ones_a_job_is_held_to() {
    use distcron_core::job::{
        MAX_COMMAND_BYTES, MAX_HISTORY_LIMIT, MAX_NAME_CHARS, MAX_RETRIES,
        MAX_RETRY_BACKOFF_SECONDS, MAX_SCHEDULE_BYTES, MAX_TIMEOUT_SECONDS,
    };
    use distcron_core::resources::{CPU_MILLIS, MAX_PROCESSES, MEMORY_MB};
    let api = TestApi::start().await;
    let doc = document(&api).await;
    let bounds: [(&str, &str, Option<u64>, u64); 10] = [
        ("schedule", "maxLength", None, MAX_SCHEDULE_BYTES as u64),
        ("executable", "maxLength", None, MAX_COMMAND_BYTES as u64),
        ("name", "maxLength", Some(1), MAX_NAME_CHARS as u64),
        (
            "timeout_seconds",
            "maximum",
            Some(1),
            MAX_TIMEOUT_SECONDS.into(),
        ),
        ("retries", "maximum", None, MAX_RETRIES.into()),
        (
            "retry_backoff_seconds",
            "maximum",
            Some(1),
            MAX_RETRY_BACKOFF_SECONDS.into(),
        ),
        (
            "history_limit",
            "maximum",
            Some(1),
            MAX_HISTORY_LIMIT.into(),
        ),
        (
            "memory_mb",
            "maximum",
            Some(MEMORY_MB.0.into()),
            MEMORY_MB.1.into(),
        ),
        (
            "cpu_millis",
            "maximum",
            Some(CPU_MILLIS.0.into()),
            CPU_MILLIS.1.into(),
        ),
        (
            "max_processes",
            "maximum",
            Some(MAX_PROCESSES.0.into()),
            MAX_PROCESSES.1.into(),
        ),
    ];
    for body in ["CreateJobRequest", "EditJobRequest"] {
        let props = &doc["components"]["schemas"][body]["properties"];
        for (field, max, min, value) in bounds {
            let p = &props[field];
            assert_eq!(p[max], json!(value), "{body}.{field}.{max}: {p}");
            if let Some(min) = min {
                let key = if max == "maxLength" {
                    "minLength"
                } else {
                    "minimum"
                };
                assert_eq!(p[key], json!(min), "{body}.{field}.{key}: {p}");
            }
        }
    }
}
