//! distcron's shared vocabulary, with no I/O: the job model, crontab schedules, the ZooKeeper
//! layout and the payloads every process reads and writes. The process crates depend on this
//! crate; it depends on none of them, so the API and the worker cannot disagree about what a
//! schedule means or where a job's task lives.

pub mod internal;
pub mod job;
pub mod layout;
pub mod output;
pub mod payload;
pub mod resources;
pub mod run;
pub mod schedule;
pub mod secret;
pub mod uids;

pub use job::{
    Concurrency, Job, JobId, JobOptions, JobSpec, JobStatus, JobType, Misfire, UserName,
};
pub use output::{Output, OutputChunk, Stream};
pub use resources::{Resource, Resources};
pub use run::{NewRun, Outcome, Run, RunEnd, RunId, RunStatus};
pub use schedule::{CronField, Schedule, ScheduleError, TimeZone};
pub use uids::UidRange;
