//! A stub leader manager: records what the API sends it and answers as the test says.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use distcron_core::Job;
use distcron_core::internal::{CreateJob, ErrorBody, ErrorKind};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// How the stub answers every request.
#[derive(Clone)]
pub enum Reply {
    /// As the leader would to a create: the job, scheduled at version 1.
    Accept,
    /// A refusal of this kind and message.
    Refuse(ErrorKind, String),
}

#[derive(Clone)]
struct Shared {
    reply: Reply,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

pub struct StubManager {
    pub url: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

impl StubManager {
    pub async fn start(reply: Reply) -> StubManager {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().fallback(answer).with_state(Shared {
            reply,
            seen: seen.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        StubManager { url, seen }
    }

    /// Every request received: its path and JSON body.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn answer(State(shared): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON body");
    shared
        .seen
        .lock()
        .expect("lock")
        .push((path.clone(), body.clone()));
    match shared.reply {
        Reply::Refuse(kind, message) => {
            let status = StatusCode::from_u16(kind.http_status()).expect("status");
            (status, Json(ErrorBody::new(kind, message))).into_response()
        }
        Reply::Accept if path == "/internal/jobs" => {
            let req: CreateJob = serde_json::from_value(body).expect("a CreateJob");
            let job = Job::new(req.id, req.owner, req.spec, Utc::now());
            (StatusCode::CREATED, Json(job)).into_response()
        }
        Reply::Accept => (StatusCode::NOT_IMPLEMENTED, "not stubbed").into_response(),
    }
}
