//! `distcron-api`: a stateless REST API server; run several behind HAProxy.

use distcron_api::{Api, Settings};
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = distcron_service::load_settings()?;
    distcron_service::init_tracing(settings.log_format);
    settings.validate()?;
    let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
    let api = Api::build(settings, listener).await?;
    api.run(distcron_service::shutdown_signal(), Duration::from_secs(10))
        .await
}
