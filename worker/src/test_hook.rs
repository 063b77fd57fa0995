//! Hooks for the end-to-end tests, compiled into debug builds only: release binaries read no
//! such variable. `DC_TEST_PANIC_RUN_TASK_FOR=<job name or id>` panics inside the run task of
//! that job's runs, once its process has started, to test what a panicking run task leaves.

use distcron_core::payload::JobTask;

/// The variable naming the job whose run tasks panic.
pub const PANIC_RUN_TASK_FOR: &str = "DC_TEST_PANIC_RUN_TASK_FOR";

/// Panics if the test hook names this run's job.
#[cfg(debug_assertions)]
pub fn panic_in_run_task(task: &JobTask) {
    let Ok(target) = std::env::var(PANIC_RUN_TASK_FOR) else {
        return;
    };
    let named = task.spec.name.as_deref() == Some(target.as_str());
    if named || task.id.to_string() == target {
        panic!("test hook {PANIC_RUN_TASK_FOR} for job {target}");
    }
}

#[cfg(not(debug_assertions))]
pub fn panic_in_run_task(_task: &JobTask) {}
