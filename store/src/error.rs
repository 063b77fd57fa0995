//! Store errors, classified by what the caller should do about them.

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// MySQL cannot be reached or gave up on us (connection, pool timeout, deadlock, lock
    /// wait): the operation did not happen and may be retried later. Maps to HTTP 503.
    #[error("MySQL is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A unique key refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row that cannot be turned back into the model: a bug or a hand edit.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("store configuration: {0}")]
    Config(String),
    #[error("MySQL error: {0}")]
    Other(#[source] sqlx::Error),
}

/// MySQL error numbers that mean "try again later" rather than "you asked for something wrong".
const TRANSIENT_NUMBERS: [u16; 7] = [
    1047, // a Galera node outside the primary component: "WSREP has not yet prepared node"
    1205, // lock wait timeout
    1213, // deadlock, and a Galera commit that lost certification to one made elsewhere
    2002, // can't connect
    2003, // can't connect
    2006, // server has gone away
    2013, // lost connection during query
];

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => StoreError::Unavailable(e),
            sqlx::Error::Database(db) => {
                // The error's number (1213), not its SQLSTATE (`code()`: 40001).
                let number = db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|m| m.number());
                if db.is_unique_violation() {
                    StoreError::Conflict(db.message().to_string())
                } else if number.is_some_and(|n| TRANSIENT_NUMBERS.contains(&n)) {
                    StoreError::Unavailable(e)
                } else {
                    StoreError::Other(e)
                }
            }
            _ => StoreError::Other(e),
        }
    }
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
