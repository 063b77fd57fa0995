//! Progress bars, drawn on stderr and only when stderr is a terminal (never into a pipe or a
//! log): the items of a bulk import, and the bytes of a large upload.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Uploads larger than this get a progress bar.
const UPLOAD_BAR_BYTES: usize = 4 * 1024 * 1024;
/// The pieces a large upload is sent in, each counted on the bar as it is sent.
const CHUNK: usize = 256 * 1024;

/// A bar of `len` steps, hidden unless stderr is a terminal.
pub fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A line on stderr, above the bar while it is drawn (indicatif's own `println` prints
/// nothing when the bar is hidden).
pub fn say(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// A request body: as it is when small, else streamed in pieces past a bar of its bytes.
pub fn upload_body(bytes: Vec<u8>) -> reqwest::Body {
    if bytes.len() < UPLOAD_BAR_BYTES {
        return reqwest::Body::from(bytes);
    }
    let bar = bar(
        bytes.len() as u64,
        "uploading {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
    );
    let pieces: Vec<Vec<u8>> = bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(pieces.into_iter().map(move |piece| {
        bar.inc(piece.len() as u64);
        if bar.position() >= bar.length().unwrap_or(0) {
            bar.finish_and_clear();
        }
        Ok::<_, std::io::Error>(piece)
    }));
    reqwest::Body::wrap_stream(stream)
}
