//! Process plumbing shared by the three binaries: typed settings from file and environment,
//! tracing, the shutdown signal and the supervisor that owns every long-lived task.

pub mod metrics;
pub mod settings;
pub mod supervisor;
pub mod telemetry;

pub use settings::load_settings;
pub use supervisor::Supervisor;
pub use telemetry::{LogFormat, init_tracing};

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only SIGINT stops this process");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}
