//! The HTTP client of the public API: every request goes through `send`, and every failure
//! becomes an `ApiError` there, once: the API's own `{error, code}` with its status, or the
//! connection's failure. Neither ever holds the token.

use crate::config::Target;
use anyhow::Context;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Why a request failed, as the user is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API (or HAProxy) answered with an error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        message: String,
        code: String,
    },
    /// No answer: the connection failed or timed out.
    #[error("could not reach {url}: {cause}")]
    Connection { url: String, cause: String },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            ApiError::Connection { .. } => None,
        }
    }
}

/// A successful answer.
pub struct Answer {
    pub headers: HeaderMap,
    pub body: Value,
}

/// A request's body: JSON, or bytes already encoded (with a progress bar for large ones).
pub enum Body<'a> {
    Json(&'a Value),
    Encoded(Vec<u8>),
}

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
    /// Without an overall timeout: a follow lasts as long as its run.
    streaming: reqwest::Client,
}

impl Client {
    /// The URL and token this client calls with.
    pub fn login(&self) -> (&str, &str) {
        (&self.base, &self.token)
    }

    pub fn new(target: &Target) -> anyhow::Result<Client> {
        let builder = || -> anyhow::Result<reqwest::ClientBuilder> {
            let b = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
            let Some(path) = &target.cacert else {
                return Ok(b);
            };
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the certificate {}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            Ok(b.add_root_certificate(cert))
        };
        let http = builder()?.timeout(Duration::from_secs(120)).build()?;
        // No overall timeout for a stream that lasts as long as its run, but a read timeout:
        // the API sends a keep-alive every 15 s, so 45 s of silence is a half-open connection,
        // a dropped stream to reconnect.
        let streaming = builder()?.read_timeout(Duration::from_secs(45)).build()?;
        Ok(Client {
            base: target.url.clone(),
            token: target.token.clone(),
            http,
            streaming,
        })
    }

    /// One request; a 4xx or 5xx becomes the API's error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body<'_>>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, ApiError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req = match body {
            Some(Body::Json(v)) => req.json(v),
            Some(Body::Encoded(bytes)) => req
                .header("content-type", "application/json")
                .body(crate::progress::upload_body(bytes)),
            None => req,
        };
        let resp = req.send().await.map_err(|e| self.connection(e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| self.connection(e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_client_error() || status.is_server_error() {
            return Err(self.api_error(status, &body));
        }
        Ok(Answer { headers, body })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ApiError> {
        Ok(self.send(Method::GET, path, query, None, &[]).await?.body)
    }

    /// A POST with an optional JSON body and `Idempotency-Key`.
    pub async fn post(
        &self,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Result<Value, ApiError> {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        let body = body.map(Body::Json);
        Ok(self
            .send(Method::POST, path, &[], body, &headers)
            .await?
            .body)
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        Ok(self
            .send(Method::PATCH, path, &[], Some(Body::Json(body)), &[])
            .await?
            .body)
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ApiError> {
        Ok(self.send(Method::DELETE, path, &[], None, &[]).await?.body)
    }

    /// A list: one page, or with `all` every page, following each page's `Link`.
    pub async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        all: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut answer = self.send(Method::GET, path, query, None, &[]).await?;
        loop {
            match answer.body {
                Value::Array(page) => items.extend(page),
                other => items.push(other),
            }
            let Some(next) = all.then(|| next_link(&answer.headers)).flatten() else {
                return Ok(items);
            };
            answer = self.send(Method::GET, &next, &[], None, &[]).await?;
        }
    }

    /// A GET whose answer is read as a stream (Server-Sent Events); an error answer is mapped
    /// as any other. A 204 comes back as it is.
    pub async fn stream(
        &self,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<reqwest::Response, ApiError> {
        let mut req = self
            .streaming
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let resp = req.send().await.map_err(|e| self.connection(e))?;
        let status = resp.status();
        if status.is_client_error() || status.is_server_error() {
            let bytes = resp.bytes().await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(self.api_error(status, &body));
        }
        Ok(resp)
    }

    fn api_error(&self, status: StatusCode, body: &Value) -> ApiError {
        let message = body["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("the API answered {status}"));
        let code = body["code"].as_str().unwrap_or("no_code").to_string();
        ApiError::Api {
            status: status.as_u16(),
            message: self.scrub(message),
            code,
        }
    }

    /// The connection's failure with its causes (the URL, never a header).
    pub fn connection(&self, e: reqwest::Error) -> ApiError {
        let causes: Vec<String> =
            std::iter::successors(std::error::Error::source(&e), |s| s.source())
                .map(ToString::to_string)
                .collect();
        let mut cause = e.without_url().to_string();
        for c in causes {
            cause.push_str(": ");
            cause.push_str(&c);
        }
        ApiError::Connection {
            url: self.base.clone(),
            cause: self.scrub(cause),
        }
    }

    /// Whatever is shown of an answer never holds the token, even one an answer echoes.
    fn scrub(&self, text: String) -> String {
        if self.token.is_empty() {
            text
        } else {
            text.replace(&self.token, "<token>")
        }
    }
}

/// The next page's path from a `Link: <path>; rel="next"` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// A path segment (an id, a user's or worker's name), percent-encoded.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "</jobs?limit=2&cursor=abc>; rel=\"next\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/jobs?limit=2&cursor=abc"));
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("worker-1"), "worker-1");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
