//! ZooKeeper plumbing shared by the processes: connecting into the cluster's chroot, creating
//! the layout, finding the leader, and a self-healing session handle for processes that only
//! read (the API servers).
//!
//! Every session authenticates with the cluster's digest credentials (`zookeeper.digest`,
//! `user:password`, known only to distcron's processes), and every znode distcron creates, the
//! chroot included, is open to that identity alone (`creator_all`): nobody else can read a task,
//! create an assignment or delete a registration. A process refuses to start on a chroot open to
//! `world:anyone`, unless `allow_open_acl` says to (and then creates znodes open to anyone).

mod session;

pub use session::ZkSession;
pub use zookeeper_client as zk;

use distcron_core::layout;
use distcron_core::payload::{self, LeaderInfo, PayloadError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Permission};

/// How to reach ZooKeeper.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZkSettings {
    /// Comma-separated `host:port` list.
    pub servers: String,
    /// The cluster's root znode; several clusters (or tests) can share one ensemble.
    pub chroot: String,
    /// Requested session timeout. Failover takes about this long, so keep it short; the server
    /// clamps it to its own bounds (2 to 20 ticks).
    pub session_timeout_ms: u64,
    /// How long to try to establish a session before reporting ZooKeeper unavailable.
    pub connect_timeout_ms: u64,
    /// `user:password` of the digest identity every distcron process authenticates as; the
    /// znodes distcron creates are open to it alone. Secret.
    #[serde(serialize_with = "distcron_core::secret::expose_opt")]
    pub digest: Option<SecretString>,
    /// Run without credentials on znodes anyone may read and change (and accept a chroot
    /// open to `world:anyone`). For a throwaway setup only.
    pub allow_open_acl: bool,
}

impl Default for ZkSettings {
    fn default() -> Self {
        ZkSettings {
            servers: "127.0.0.1:2181".into(),
            chroot: "/distcron".into(),
            session_timeout_ms: 6000,
            connect_timeout_ms: 5000,
            digest: None,
            allow_open_acl: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// No session, or the session is gone: nothing happened, try later. Maps to HTTP 503.
    #[error("ZooKeeper is unavailable: {0}")]
    Unavailable(#[source] zookeeper_client::Error),
    #[error("ZooKeeper error: {0}")]
    Zk(#[source] zookeeper_client::Error),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("invalid ZooKeeper settings: {0}")]
    Config(String),
}

impl From<zookeeper_client::Error> for ZkError {
    fn from(e: zookeeper_client::Error) -> Self {
        use zookeeper_client::Error as E;
        match e {
            E::ConnectionLoss
            | E::SessionExpired
            | E::Timeout
            | E::NoHosts
            | E::ClientClosed
            | E::SessionMoved
            | E::Throttled => ZkError::Unavailable(e),
            other => ZkError::Zk(other),
        }
    }
}

impl ZkError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ZkError::Unavailable(_))
    }
}

pub type Result<T, E = ZkError> = std::result::Result<T, E>;

/// Whether this process's sessions are authenticated (set by `connect` from the settings,
/// which are the same for every session of a process).
static AUTHENTICATED: AtomicBool = AtomicBool::new(true);

/// The ACL of the znodes distcron creates: its own identity's alone, or, with
/// `allow_open_acl` and no credentials, anyone's.
pub fn acls() -> Acls<'static> {
    if AUTHENTICATED.load(Ordering::Relaxed) {
        Acls::creator_all()
    } else {
        Acls::anyone_all()
    }
}

/// Options for the persistent znodes distcron creates.
pub fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(acls())
}

/// Options for ephemeral znodes (registrations).
pub fn ephemeral() -> CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(acls())
}

/// Whether an ACL lets anyone at all do something.
fn open_to_anyone(acl: &[zookeeper_client::Acl]) -> bool {
    acl.iter()
        .any(|a| a.scheme() == "world" && a.id() == "anyone" && a.permission() != Permission::NONE)
}

/// Opens a session rooted at the cluster's chroot, creating the chroot and the layout's
/// directories if this is the cluster's first start.
pub async fn connect(settings: &ZkSettings) -> Result<Client> {
    if !settings.chroot.starts_with('/') || settings.chroot.ends_with('/') && settings.chroot != "/"
    {
        return Err(ZkError::Config(format!(
            "chroot `{}` must be an absolute path without a trailing slash",
            settings.chroot
        )));
    }
    let mut connector = Client::connector()
        .with_session_timeout(Duration::from_millis(settings.session_timeout_ms))
        .with_connection_timeout(Duration::from_millis(settings.connect_timeout_ms));
    match (&settings.digest, settings.allow_open_acl) {
        (Some(digest), _) => {
            connector = connector.with_auth("digest", digest.expose_secret().as_bytes());
            AUTHENTICATED.store(true, Ordering::Relaxed);
        }
        (None, true) => AUTHENTICATED.store(false, Ordering::Relaxed),
        (None, false) => {
            return Err(ZkError::Config(
                "no ZooKeeper credentials: set zookeeper.digest (DISTCRON_ZOOKEEPER__DIGEST, \
                 user:password), or zookeeper.allow_open_acl = true to keep znodes anyone may change"
                    .into(),
            ));
        }
    }
    let client = connector.connect(&settings.servers).await?;
    if settings.chroot != "/" {
        client.mkdir(&settings.chroot, &persistent()).await?;
        let (acl, _) = client.get_acl(&settings.chroot).await?;
        if open_to_anyone(&acl) && !settings.allow_open_acl {
            return Err(ZkError::Config(format!(
                "the chroot {} is open to world:anyone: any process that reaches ZooKeeper could \
                 change the cluster's tasks. Give it (and what is under it) distcron's digest ACL, \
                 or set zookeeper.allow_open_acl = true to run anyway",
                settings.chroot
            )));
        }
        if open_to_anyone(&acl) {
            tracing::warn!(chroot = %settings.chroot, "the chroot is open to world:anyone (allow_open_acl)");
        }
    }
    let client = client
        .chroot(settings.chroot.clone())
        .map_err(|_| ZkError::Config(format!("invalid chroot `{}`", settings.chroot)))?;
    for dir in layout::DIRECTORIES {
        client.mkdir(dir, &persistent()).await?;
    }
    Ok(client)
}

/// Opens a session (see [`connect`]), retrying with backoff until it succeeds; `None` once
/// `cancel` fires. Failures are logged, never fatal: ZooKeeper coming back is the normal case.
pub async fn connect_retrying(settings: &ZkSettings, cancel: &CancellationToken) -> Option<Client> {
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = tokio::select! {
            _ = cancel.cancelled() => return None,
            r = connect(settings) => r,
        };
        match attempt {
            Ok(client) => return Some(client),
            Err(e) => {
                tracing::warn!(error = %e, servers = %settings.servers, retry_in_ms = backoff.as_millis() as u64, "cannot open a ZooKeeper session");
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The current leader manager, as its election znode describes it.
pub async fn current_leader(client: &Client) -> Result<Option<LeaderInfo>> {
    // A candidate may vanish between the listing and the read; then look again.
    for _ in 0..3 {
        let names = client.list_children(layout::ELECTION).await?;
        let Some(leader) = layout::election_leader(names.iter().map(String::as_str)) else {
            return Ok(None);
        };
        match client
            .get_data(&format!("{}/{leader}", layout::ELECTION))
            .await
        {
            Ok((data, _)) => return Ok(Some(payload::decode(&data)?)),
            Err(zookeeper_client::Error::NoNode) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}
