//! The launch gate: a worker starts a run only while it is sure it owns its jobs. That means a
//! connected ZooKeeper session that answered recently (a paused process must not trust a
//! session it cannot know is still alive), assignments re-read since the session began, a
//! clock that agrees with the cluster's, and not shutting down.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct Gate {
    epoch: Instant,
    /// Nanoseconds since `epoch` of the last ZooKeeper response (sent time of the request).
    last_zk_ok: AtomicU64,
    /// Same, for the last successful lease renewal in MySQL.
    last_mysql_ok: AtomicU64,
    connected: AtomicBool,
    reconciled: AtomicBool,
    clock_ok: AtomicBool,
    shutting_down: AtomicBool,
    /// A third of the negotiated session timeout.
    staleness: AtomicU64,
    clock_problem: Mutex<Option<String>>,
    changed: watch::Sender<()>,
}

/// Why the gate is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed(pub String);

impl Gate {
    pub fn new() -> Gate {
        let (changed, _) = watch::channel(());
        Gate {
            epoch: Instant::now(),
            last_zk_ok: AtomicU64::new(0),
            last_mysql_ok: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            reconciled: AtomicBool::new(false),
            clock_ok: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            staleness: AtomicU64::new(Duration::from_secs(2).as_nanos() as u64),
            clock_problem: Mutex::new(Some("clock not checked yet".into())),
            changed,
        }
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    fn age(&self, stamp: &AtomicU64) -> Duration {
        let now = self.since_epoch(Instant::now());
        Duration::from_nanos(now.saturating_sub(stamp.load(Ordering::Acquire)))
    }

    /// Whether a run may start now.
    pub fn check(&self) -> Result<(), Closed> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Closed("the worker is shutting down".into()));
        }
        // First, as it is the cause of the rest: a worker with a wrong clock does not register.
        if !self.clock_ok.load(Ordering::Acquire) {
            let problem = self
                .clock_problem
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            return Err(Closed(problem.unwrap_or_else(|| "clock skew".into())));
        }
        if !self.connected.load(Ordering::Acquire) {
            return Err(Closed("no ZooKeeper session".into()));
        }
        if !self.reconciled.load(Ordering::Acquire) {
            return Err(Closed(
                "assignments not re-read since the session began".into(),
            ));
        }
        let staleness = Duration::from_nanos(self.staleness.load(Ordering::Acquire));
        let age = self.age(&self.last_zk_ok);
        if age > staleness {
            return Err(Closed(format!(
                "ZooKeeper last answered {} ms ago (limit {} ms, a third of the session timeout)",
                age.as_millis(),
                staleness.as_millis()
            )));
        }
        Ok(())
    }

    pub fn is_open(&self) -> bool {
        self.check().is_ok()
    }

    /// A ZooKeeper request sent at `sent` got its answer.
    pub fn zk_ok(&self, sent: Instant) {
        let was_open = self.is_open();
        self.last_zk_ok
            .fetch_max(self.since_epoch(sent), Ordering::AcqRel);
        if !was_open && self.is_open() {
            self.notify();
        }
    }

    /// A lease renewal sent at `sent` succeeded.
    pub fn mysql_ok(&self, sent: Instant) {
        self.last_mysql_ok
            .fetch_max(self.since_epoch(sent), Ordering::AcqRel);
    }

    /// How long since ZooKeeper last answered the worker: its heartbeat's age.
    pub fn zk_age(&self) -> Duration {
        self.age(&self.last_zk_ok)
    }

    /// How long since the worker last heard from either ZooKeeper or MySQL: the fence.
    pub fn out_of_contact_for(&self) -> Duration {
        self.age(&self.last_zk_ok)
            .min(self.age(&self.last_mysql_ok))
    }

    pub fn session_started(&self, session_timeout: Duration, sent: Instant) {
        self.staleness
            .store((session_timeout / 3).as_nanos() as u64, Ordering::Release);
        self.reconciled.store(false, Ordering::Release);
        self.connected.store(true, Ordering::Release);
        self.zk_ok(sent);
    }

    /// Whether the ZooKeeper session is connected.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        self.notify();
    }

    /// The session ended: ownership must be re-established before anything runs again.
    pub fn session_lost(&self) {
        self.connected.store(false, Ordering::Release);
        self.reconciled.store(false, Ordering::Release);
        self.notify();
    }

    pub fn set_reconciled(&self) {
        self.reconciled.store(true, Ordering::Release);
        self.notify();
    }

    pub fn set_clock(&self, problem: Option<String>) {
        let ok = problem.is_none();
        *self.clock_problem.lock().unwrap_or_else(|p| p.into_inner()) = problem;
        if self.clock_ok.swap(ok, Ordering::AcqRel) != ok {
            self.notify();
        }
    }

    /// Whether the last clock check found the clock in agreement with MySQL's.
    pub fn clock_ok(&self) -> bool {
        self.clock_ok.load(Ordering::Acquire)
    }

    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.notify();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn notify(&self) {
        self.changed.send_replace(());
    }

    /// Wakes when the gate's inputs change.
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_gate() -> Gate {
        let g = Gate::new();
        g.session_started(Duration::from_millis(3000), Instant::now());
        g.set_reconciled();
        g.set_clock(None);
        g
    }

    #[test]
    fn an_established_reconciled_session_opens_the_gate() {
        let g = open_gate();
        assert_eq!(g.check(), Ok(()));
    }

    #[test]
    fn a_new_session_keeps_the_gate_closed_until_assignments_are_reread() {
        let g = open_gate();
        g.session_lost();
        assert!(g.check().is_err());
        g.session_started(Duration::from_millis(3000), Instant::now());
        assert!(g.check().unwrap_err().0.contains("re-read"));
        g.set_reconciled();
        assert_eq!(g.check(), Ok(()));
    }

    #[test]
    fn a_stale_answer_closes_the_gate_like_a_paused_process_would_see_it() {
        // A 30 ms session: the gate trusts an answer for 10 ms.
        let g = Gate::new();
        g.session_started(Duration::from_millis(30), Instant::now());
        g.set_reconciled();
        g.set_clock(None);
        assert_eq!(g.check(), Ok(()));
        std::thread::sleep(Duration::from_millis(20));
        let err = g.check().unwrap_err();
        assert!(err.0.contains("last answered"), "{err:?}");
        // A fresh answer opens it again.
        g.zk_ok(Instant::now());
        assert_eq!(g.check(), Ok(()));
    }

    #[test]
    fn clock_skew_and_shutdown_close_the_gate() {
        let g = open_gate();
        g.set_clock(Some("clock is 3 s ahead of MySQL".into()));
        assert!(g.check().unwrap_err().0.contains("ahead"));
        g.set_clock(None);
        g.shut_down();
        assert!(g.check().unwrap_err().0.contains("shutting down"));
    }

    #[test]
    fn contact_with_either_store_postpones_the_fence() {
        let g = Gate::new();
        g.zk_ok(Instant::now() - Duration::from_secs(10));
        g.mysql_ok(Instant::now());
        assert!(g.out_of_contact_for() < Duration::from_secs(1));
    }
}
