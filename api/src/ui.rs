//! The web page: static files embedded in the binary (`api/ui/`), served at `/` and `/ui/*`.
//! The page is a thin client of the public API: it holds no power of its own, and calls the
//! documented routes with the signed-in user's token. Its files need no token (they hold no
//! data), and are not API routes, so they are not in `/openapi.json`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page's files: name, content type, contents.
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("../ui/index.html")),
    ("app.css", CSS, include_str!("../ui/app.css")),
    ("app.js", JS, include_str!("../ui/app.js")),
    ("api.js", JS, include_str!("../ui/api.js")),
    ("dom.js", JS, include_str!("../ui/dom.js")),
    ("cron.js", JS, include_str!("../ui/cron.js")),
    ("jobs.js", JS, include_str!("../ui/jobs.js")),
    ("job_form.js", JS, include_str!("../ui/job_form.js")),
    ("job.js", JS, include_str!("../ui/job.js")),
    ("run.js", JS, include_str!("../ui/run.js")),
    ("workers.js", JS, include_str!("../ui/workers.js")),
    ("admin.js", JS, include_str!("../ui/admin.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Scripts and styles from this origin only, no inline script or style, nothing framing the
/// page, forms posting nowhere: the token in the page's memory cannot be sent elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The page's routes, merged into the API's router beside (not inside) `api_routes()`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return crate::error::ApiError::NotFound(format!("no such file: /ui/{name}"))
            .into_response();
    };
    // Files change with the binary only: revalidate each time (cheap, a 304), so a new
    // version is never mixed with cached modules of the old one.
    let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, *body).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// A stable digest of a file (the same on every API server of one build), for its ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        for (name, _, body) in FILES {
            for line in body
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let Some(path) = line.split(['"', '\'']).nth(1) else {
                    continue;
                };
                let file = path.trim_start_matches("./");
                assert!(
                    FILES.iter().any(|(n, _, _)| *n == file),
                    "{name} imports {path}, which is not served"
                );
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let (_, _, html) = FILES[0];
        assert!(!html.contains("<script>") && !html.contains("style="));
        assert!(!html.contains("<style"));
    }
}
