//! What `hostile_input.rs` and `hostile_paths.rs` share: the verdict on a refusal, the hostile
//! strings, and an HTTP/1.1 request written by hand for what no HTTP client will send.

// Each test binary uses only some of these.
#![allow(dead_code)]

use distcron_e2e::client::Answer;
use reqwest::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// SQL metacharacters: quotes, comments, statement ends, backslashes and LIKE's wildcards.
pub const SQL: [&str; 4] = [
    "' OR 1=1 --",
    "\"; DROP TABLE jobs; --",
    "\\'; DELETE FROM users WHERE name LIKE '%' OR '1'='1",
    "100% _match_ \\%\\_ \\\\",
];

/// Emoji, right-to-left text (and a bidi override), combining marks, zero-width characters.
pub const UNICODE: &str = "🦀👩‍💻 שלום עולם \u{202E}txt.exe\u{202C} e\u{301}\u{325} \u{200B}\u{FEFF}";

/// A refusal as the API words them: `status`, the JSON error shape (exactly `error` and
/// `code`), `code`, and a message that mentions `needle`.
pub fn assert_refused(a: &Answer, status: StatusCode, code: &str, needle: &str, what: &str) {
    let shown = a.body.to_string();
    let shown = &shown[..shown.floor_char_boundary(500)];
    assert_eq!(a.status, status, "{what}: answered {}: {shown}", a.status);
    assert_eq!(
        a.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{what}"
    );
    let fields = a.body.as_object().map(|o| o.len());
    assert_eq!(fields, Some(2), "{what}: {{error, code}} only: {shown}");
    assert_eq!(a.body["code"], code, "{what}: {shown}");
    assert!(
        a.error().contains(needle),
        "{what}: the error should mention `{needle}`: {shown}"
    );
}

/// An answer read off a raw connection.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `GET <target>` (any bytes) to `addr` on a connection of its own and reads the whole
/// answer. A hang, a reset or an answer cut short fails the test.
pub async fn raw_get(addr: &str, target: &[u8], token: &str) -> RawAnswer {
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: distcron\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let shown = String::from_utf8_lossy(&target[..target.len().min(80)]).into_owned();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&request).await.expect("send the request");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .unwrap_or_else(|e| panic!("GET {shown}: the connection broke: {e}"));
        answer
    };
    let answer = tokio::time::timeout(Duration::from_secs(15), exchange)
        .await
        .unwrap_or_else(|_| panic!("GET {shown}: no answer within 15 s"));
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {shown}: no complete head in {answer:?}"));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let body = answer[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {shown}: no status in {head}"));
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("GET {shown}: no content-length in {head}"));
    assert_eq!(body.len(), length, "GET {shown}: the answer was cut short");
    RawAnswer {
        status,
        content_type: header("content-type"),
        body,
    }
}
