//! A small client for distcron's REST API, as a user would call it.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone)]
pub struct ApiClient {
    pub base: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The `error` message of an error answer.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

impl ApiClient {
    pub fn new(base: impl Into<String>, token: Option<String>) -> ApiClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client");
        ApiClient {
            base: base.into(),
            token,
            http,
        }
    }

    /// The same client, connecting from `local` (another loopback address, say 127.0.0.2:
    /// to HAProxy, another client).
    pub fn bound_to(&self, local: std::net::IpAddr) -> ApiClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .local_address(local)
            .build()
            .expect("HTTP client");
        ApiClient {
            base: self.base.clone(),
            token: self.token.clone(),
            http,
        }
    }

    /// The same client and token, against another base URL (an API server itself, say).
    pub fn at(&self, base: impl Into<String>) -> ApiClient {
        ApiClient {
            base: base.into(),
            token: self.token.clone(),
            http: self.http.clone(),
        }
    }

    pub fn with_token(&self, token: impl Into<String>) -> ApiClient {
        ApiClient {
            base: self.base.clone(),
            token: Some(token.into()),
            http: self.http.clone(),
        }
    }

    pub async fn try_request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Result<Answer> {
        self.try_request_raw(method, path, body.map(|b| b.to_string().into_bytes()))
            .await
    }

    pub async fn try_request_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> reqwest::Result<Answer> {
        self.try_request_with(method, path, body, &[]).await
    }

    /// A request with headers of its own (say, `Idempotency-Key`).
    pub async fn try_request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Answer> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            body,
            headers,
        })
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.try_request(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.request(Method::POST, path, Some(body)).await
    }

    /// A POST with headers of its own.
    pub async fn post_with(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
        self.try_request_with(
            Method::POST,
            path,
            Some(body.to_string().into_bytes()),
            headers,
        )
        .await
        .unwrap_or_else(|e| panic!("POST {path} failed: {e}"))
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates a job and insists on 201.
    pub async fn create_job(&self, body: &Value) -> Value {
        let a = self.post("/jobs", body).await;
        assert_eq!(
            a.status,
            StatusCode::CREATED,
            "POST /jobs {body} answered {}: {}",
            a.status,
            a.body
        );
        a.body
    }
}
