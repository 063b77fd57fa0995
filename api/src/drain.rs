//! Request bodies a handler did not read are read (and thrown away) before the answer goes out.
//!
//! A server that answers and closes while the client is still sending resets the connection,
//! and a reset can destroy the answer before HAProxy or the client has read it: the client
//! would see a broken connection instead of the 401, 403 or 413 that names the problem. Every
//! answer given before the body was read (a missing token, a non-admin on an admin route, an
//! over-limit body, an unknown route) has this race, so it is handled once, here, for every
//! route: the middleware hands the handler a body that, when dropped unfinished, comes back to
//! the middleware, which reads what is left within `DRAIN_MAX_BYTES` and `DRAIN_MAX_TIME`. Past
//! these bounds the answer is sent anyway and the connection closed.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header::EXPECT;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// The middleware: see the module's documentation.
pub async fn drain_unread_body(req: Request, next: Next) -> Response {
    // A client waiting for `100 Continue` sends no body until the body is first read, so a body
    // never read is not on its way: nothing to drain.
    let awaits_continue = req
        .headers()
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = req.into_parts();
    let (back, mut unread) = oneshot::channel();
    let body = Body::new(Tracked {
        inner: Some(body),
        back: Some(back),
        polled: false,
    });
    let response = next.run(Request::from_parts(parts, body)).await;
    // The handler has returned, so its body is gone: it either came back unfinished, or was
    // read to its end (the sender dropped). A body some task still holds is left alone.
    if let Ok(Unread { body, polled }) = unread.try_recv()
        && (polled || !awaits_continue)
    {
        drain(body).await;
    }
    response
}

/// What was left of a request body its handler dropped.
struct Unread {
    body: Body,
    polled: bool,
}

/// A request body that returns to the middleware when dropped before its end.
struct Tracked {
    inner: Option<Body>,
    back: Option<oneshot::Sender<Unread>>,
    polled: bool,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.polled = true;
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // Read to its end: nothing to drain.
            self.inner = None;
            self.back = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let (Some(body), Some(back)) = (self.inner.take(), self.back.take())
            && !body.is_end_stream()
        {
            let _ = back.send(Unread {
                body,
                polled: self.polled,
            });
        }
    }
}

/// Reads and discards the rest of a body, within `DRAIN_MAX_BYTES` and `DRAIN_MAX_TIME`.
async fn drain(mut body: Body) {
    use http_body_util::BodyExt;
    let read = async {
        let mut drained = 0usize;
        while drained <= DRAIN_MAX_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => drained += frame.data_ref().map_or(0, Bytes::len),
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, read).await;
}
