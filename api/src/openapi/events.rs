//! How the document describes a follow's stream (`GET /runs/{id}/log?follow=true`): as
//! OpenAPI 3.2 and schemathesis read `text/event-stream`, the schema is that of one event,
//! `{event, data, id?, retry?}`, and `data` is a JSON string whose own schema (`contentSchema`)
//! depends on the event: an `output` event's chunk, the `end` event's run, an `error` event's
//! error.

use crate::error::ErrorBody;
use crate::routes::logs::ChunkView;
use crate::view::RunView;
use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// One event of a follow (the document's description of it; never built).
pub struct LogEvent;

/// The events a follow sends: their name, the schema of their data, what they are.
const EVENTS: [(&str, &str, &str); 3] = [
    (
        "output",
        "ChunkView",
        "A chunk of output; its id is the chunk's `seq`",
    ),
    ("end", "RunView", "The run as it ended: the last event"),
    (
        "error",
        "ErrorBody",
        "The follow ends early: the token stopped working, MySQL is unavailable, or the server \
         is shutting down",
    ),
];

fn event(name: &str, data: &str, description: &str) -> Schema {
    let data = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .description(Some(format!("`{data}` as JSON")))
        .extensions(Some(Extensions::from_iter([(
            "contentSchema",
            json!(Ref::from_schema_name(data)),
        )])));
    let string = || ObjectBuilder::new().schema_type(Type::String);
    ObjectBuilder::new()
        .description(Some(description))
        .property("event", string().enum_values(Some([name])))
        .property("data", data)
        .property(
            "id",
            string().description(Some("The last chunk's `seq` so far")),
        )
        .property("retry", ObjectBuilder::new().schema_type(Type::Integer))
        .required("event")
        .required("data")
        .into()
}

impl PartialSchema for LogEvent {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "One event of a follow: `output` (a chunk), then `end` (the run as it ended), or \
             `error`",
        ));
        for (name, data, description) in EVENTS {
            one_of = one_of.item(event(name, data, description));
        }
        RefOr::T(one_of.into())
    }
}

impl ToSchema for LogEvent {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ChunkView::name().into(), ChunkView::schema()));
        schemas.push((RunView::name().into(), RunView::schema()));
        RunView::schemas(schemas);
        schemas.push((ErrorBody::name().into(), ErrorBody::schema()));
    }
}
