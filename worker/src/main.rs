//! `distcron-worker`: runs on every node and runs the jobs assigned to it.

use distcron_worker::{Settings, Worker};
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let settings: Settings = distcron_service::load_settings()?;
    distcron_service::init_tracing(settings.log_format);
    settings.validate()?;
    // The guardian is a fork: it must happen before the runtime starts its threads.
    let prepared = distcron_worker::prepare(&settings)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
            let worker = Worker::build(settings, listener, prepared).await?;
            worker
                .run(distcron_service::shutdown_signal(), Duration::from_secs(10))
                .await
        })
}
