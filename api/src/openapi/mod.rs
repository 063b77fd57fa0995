//! The public API's OpenAPI 3.1 document, served at `GET /openapi.json` without a token: it is
//! a public contract. It is generated from the code: each handler's `#[utoipa::path]` names its
//! parameters, body, answers and examples; the types it reads and answers derive their schemas
//! (`ToSchema`, `IntoParams`); and `routes::api_routes` registers every route through
//! utoipa-axum's `routes!`, which takes documented handlers only. What every operation shares
//! is added here, once: the bearer-token scheme, and the answers a request may get whatever its
//! route — 401 without a valid token, 500, 503 when a dependency is down, and HAProxy's own
//! (429 to a throttled address, 502, 503 and 504).

pub mod events;
pub mod examples;

use crate::error::ErrorBody;
use axum::Json;
use serde_json::{Value, json};
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, Ref, RefOr};

/// What the document says of itself; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "distcron",
        description = "A distributed crontab controller: jobs (a command, or a script or binary \
            uploaded with the request) run at every scheduled time exactly once, on one of many \
            workers. Every request but `GET /healthz`, `GET /metrics` and `GET /openapi.json` \
            needs `Authorization: Bearer <token>`. Every error is JSON, `{\"error\", \"code\"}` \
            (`ErrorBody`), HAProxy's included; the one exception is HAProxy 2.6's own HTML 400 \
            or 408 to a request whose headers could not be read or did not arrive in time.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "jobs", description = "Jobs: their definitions, schedules and state"),
        (name = "runs", description = "Runs: one attempt at one scheduled time, or a manual run"),
        (name = "cluster", description = "The workers, the audit log, schedules previewed"),
        (name = "users", description = "Users and their tokens"),
        (name = "health", description = "Liveness, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The document's own parts, for the router to add its paths to.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The whole document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = crate::routes::api_routes().into_openapi();
        add_shared(&mut doc);
        doc
    })
}

/// The document as JSON, as served.
pub fn document_json() -> &'static Value {
    static JSON: OnceLock<Value> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut json = serde_json::to_value(document()).unwrap_or_default();
        camel_case_links(&mut json);
        json
    })
}

/// utoipa 5's `Link` writes its fields in snake case (`operation_id`; fixed in utoipa 6):
/// OpenAPI's are camel case, or the links are not links.
fn camel_case_links(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(links)) = map.get_mut("links") {
                for link in links.values_mut().filter_map(Value::as_object_mut) {
                    for (snake, camel) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(value) = link.remove(snake) {
                            link.insert(camel.into(), value);
                        }
                    }
                }
            }
            map.values_mut().for_each(camel_case_links);
        }
        Value::Array(items) => items.iter_mut().for_each(camel_case_links),
        _ => {}
    }
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)),
)]
pub async fn openapi_json() -> Json<&'static Value> {
    Json(document_json())
}

/// A string schema of these values alone.
pub fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// An array of RFC 3339 times.
pub fn date_times() -> utoipa::openapi::schema::Array {
    let time = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    ArrayBuilder::new().items(time).build()
}

/// The answers every operation may give, by status: the name of their component and what
/// they say.
const SHARED: [(&str, &str, &str); 6] = [
    (
        "429",
        "TooManyRequests",
        "HAProxy: this client address had too many failed authentications (401) lately; every \
         request from it is refused for a while (`Retry-After`), good tokens included",
    ),
    (
        "500",
        "Internal",
        "A bug: the cause is logged on the server, never shown",
    ),
    (
        "502",
        "BadGateway",
        "HAProxy: the API server gave an invalid answer",
    ),
    (
        "503",
        "Unavailable",
        "A dependency (ZooKeeper, MySQL, S3, the leader manager) is unavailable, or (HAProxy) no \
         API server is: nothing was changed, try again (`Retry-After`)",
    ),
    (
        "504",
        "GatewayTimeout",
        "HAProxy: the API server did not answer in time",
    ),
    (
        "401",
        "Unauthorized",
        "No bearer token, or one that is not (or no longer) a user's: a replaced token or a \
         disabled user's stops working within 2 s",
    ),
];

fn shared_example(status: &str) -> Value {
    let (error, code) = match status {
        "401" => ("missing or invalid bearer token", "unauthorized"),
        "429" => (
            "too many failed authentications from this address; try again later",
            "too_many_requests",
        ),
        "500" => ("internal error", "internal"),
        "502" => ("the API server gave an invalid answer", "unavailable"),
        "504" => ("the API server did not answer in time", "unavailable"),
        _ => (
            "the job store (MySQL) is unavailable; nothing was changed, try again shortly",
            "unavailable",
        ),
    };
    json!({"error": error, "code": code})
}

fn shared_response(status: &str, description: &str) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .example(Some(shared_example(status)))
        .build();
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build()
    };
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    match status {
        "401" => {
            response = response.header("WWW-Authenticate", header("`Bearer`"));
        }
        "429" | "503" => {
            response =
                response.header("Retry-After", header("Seconds to wait before trying again"));
        }
        _ => {}
    }
    response.build()
}

/// Whether an operation asks for a token: it names the bearer scheme (public ones name an
/// empty requirement, `security(())`).
fn secured(op: &Operation) -> bool {
    op.security
        .as_ref()
        .is_some_and(|s| s.iter().any(|r| *r != Default::default()))
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The bearer scheme and the shared answers, into every operation. An operation that says
/// what it answers with one of these statuses (`/readyz`'s 503: its report) keeps its own
/// body, as one choice beside the error's.
fn add_shared(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Components::new);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A user's API token (`dct_...`), as `POST /users` or \
                     `POST /users/{name}/token` answered it",
                ))
                .build(),
        ),
    );
    for (status, name, description) in SHARED {
        components
            .responses
            .insert(name.into(), RefOr::T(shared_response(status, description)));
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let secured = secured(op);
            for (status, name, _) in SHARED {
                if status == "401" && !secured {
                    continue;
                }
                let shared = RefOr::Ref(Ref::from_response_name(name));
                match op.responses.responses.get_mut(status) {
                    None => {
                        op.responses.responses.insert(status.into(), shared);
                    }
                    Some(RefOr::T(own)) => {
                        for content in own.content.values_mut() {
                            // Its own answer already the error shape (a follow's 429): a oneOf
                            // of it twice would match every error twice, which oneOf refuses.
                            let error_shape = Ref::from_schema_name("ErrorBody");
                            if matches!(&content.schema, Some(RefOr::Ref(r)) if *r == error_shape) {
                                continue;
                            }
                            if let Some(schema) = content.schema.take() {
                                let either = OneOfBuilder::new()
                                    .item(schema)
                                    .item(Ref::from_schema_name("ErrorBody"));
                                content.schema = Some(either.into());
                            }
                        }
                    }
                    Some(RefOr::Ref(_)) => {}
                }
            }
        }
    }
}
