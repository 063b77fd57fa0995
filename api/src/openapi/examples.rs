//! The document's examples: README's session with curl, as values. Request examples are sent
//! as they are by the schemathesis test (`e2e/tests/openapi.rs`), so each is a valid request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const JOB_ID: &str = "019a9f3e-5d2c-7b1a-9c3e-2f4d6a8b0c1e";
const SCRIPT_ID: &str = "019a9f3f-0a1b-7c2d-8e3f-4a5b6c7d8e9f";
const RUN_ID: &str = "019aa1c0-3e4f-7a5b-8c6d-7e8f9a0b1c2d";
const SCRIPT_SHA256: &str = "5b1c8f2e4a6d9c0b3e7f1a2d5c8b4e6f9a0d3c7b1e5f8a2d4c6b9e0f3a7d1c5b";
/// The script README uploads.
const HELLO_SH: &str = "#!/bin/sh\necho \"hello from $DISTCRON_JOB_ID\"\n";

/// The seed design's example, as is: `ls -la` at minute 5 of every hour.
pub fn create_command() -> Value {
    json!({"executable": "ls -la", "schedule": "5 * * * *", "type": "command"})
}

/// A script, uploaded as base64 in the same request.
pub fn create_script() -> Value {
    json!({
        "type": "script",
        "schedule": "*/10 * * * * *",
        "name": "hello",
        "content": STANDARD.encode(HELLO_SH),
        "timeout_seconds": 30,
    })
}

/// README's edit: a new schedule, the name cleared.
pub fn edit() -> Value {
    json!({"schedule": "*/10 * * * *", "name": null})
}

/// The job `POST /jobs` made of `create_command`.
pub fn job() -> Value {
    json!({
        "id": JOB_ID,
        "status": "scheduled",
        "executable": "ls -la",
        "schedule": "5 * * * *",
        "type": "command",
        "name": null,
        "sha256": null,
        "timezone": "UTC",
        "timeout_seconds": null,
        "privileged": false,
        "run_as": null,
        "concurrency": "allow",
        "misfire": "run_once",
        "retries": 0,
        "retry_backoff_seconds": 10,
        "retry_interrupted": true,
        "history_limit": null,
        "history_from": null,
        "memory_mb": null,
        "cpu_millis": null,
        "max_processes": null,
        "owner": "admin",
        "version": 1,
        "created_at": "2026-11-22T15:51:12.345Z",
        "updated_at": "2026-11-22T15:51:12.345Z",
        "next_run_at": "2026-11-22T16:05:00.000Z",
        "paused_at": null,
        "resumed_at": null,
    })
}

/// The job `POST /jobs` made of `create_script`.
pub fn script_job() -> Value {
    let mut job = job();
    let fields = json!({
        "id": SCRIPT_ID,
        "executable": format!("s3://distcron/blobs/sha256/{SCRIPT_SHA256}"),
        "sha256": SCRIPT_SHA256,
        "schedule": "*/10 * * * * *",
        "type": "script",
        "name": "hello",
        "timeout_seconds": 30,
        "next_run_at": "2026-11-22T15:51:20.000Z",
    });
    if let (Some(job), Some(fields)) = (job.as_object_mut(), fields.as_object()) {
        job.extend(fields.clone());
    }
    job
}

/// README's manual run, just queued.
pub fn run() -> Value {
    json!({
        "id": RUN_ID,
        "job_id": JOB_ID,
        "scheduled_at": "2026-11-22T15:52:03.123457Z",
        "attempt": 1,
        "trigger": "manual",
        "triggered_by": "admin",
        "status": "pending",
        "reason": null,
        "worker": "worker-1",
        "created_at": "2026-11-22T15:52:03.123Z",
        "started_at": null,
        "finished_at": null,
        "exit_code": null,
        "signal": null,
    })
}

/// A scheduled run that ended, with its output.
pub fn run_with_output() -> Value {
    json!({
        "id": RUN_ID,
        "job_id": JOB_ID,
        "scheduled_at": "2026-11-22T16:05:00.000Z",
        "attempt": 1,
        "trigger": "schedule",
        "triggered_by": null,
        "status": "succeeded",
        "reason": null,
        "worker": "worker-1",
        "created_at": "2026-11-22T16:04:59.500Z",
        "started_at": "2026-11-22T16:05:00.002Z",
        "finished_at": "2026-11-22T16:05:00.011Z",
        "exit_code": 0,
        "signal": null,
        "output": {
            "stdout": "total 0\n",
            "stderr": "",
            "stdout_truncated": false,
            "stderr_truncated": false,
        },
    })
}

pub fn kill() -> Value {
    json!({"asked": [RUN_ID], "already_asked": [], "skipped": []})
}

pub fn ticks() -> Value {
    json!({
        "job_id": JOB_ID,
        "from": "2026-12-04T10:00:00.000Z",
        "to": "2026-12-04T11:00:00.000Z",
        "history_from": "2026-11-22T15:51:12.345Z",
        "ticks": [
            {"scheduled_at": "2026-12-04T10:05:00Z", "state": "succeeded", "run_id": RUN_ID,
             "attempts": 1, "worker": "worker-1", "caught_up": false},
        ],
    })
}

pub fn workers() -> Value {
    json!([{
        "id": "worker-1",
        "host": "node-1",
        "addr": "http://127.0.0.1:30201",
        "capacity": 100000,
        "ceilings": {"memory_mb": 24064, "cpu_millis": 2000, "max_processes": 4194304},
        "incarnation": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
        "started_at": "2026-11-22T15:40:00.000Z",
        "jobs": 2,
        "running": 1,
        "reachable": true,
        "last_heartbeat_at": "2026-11-22T15:52:10.250Z",
        "gate": {"open": true, "reason": null},
        "runs_in_process": 1,
    }])
}

pub fn audit() -> Value {
    json!([{
        "id": 42,
        "at": "2026-12-01T09:30:00.000Z",
        "actor": "alice",
        "action": "job.edit",
        "object_type": "job",
        "object_id": JOB_ID,
        "detail": {"version": 2, "old": {"schedule": "5 * * * *"}, "new": {"schedule": "*/10 * * * *"}},
    }])
}

pub fn preview() -> Value {
    json!({
        "schedule": "0 9 * * mon-fri",
        "timezone": "Europe/Berlin",
        "after": "2026-12-04T18:00:00.000Z",
        "fire_times": ["2026-12-07T08:00:00.000Z", "2026-12-08T08:00:00.000Z", "2026-12-09T08:00:00.000Z"],
    })
}

pub fn create_user() -> Value {
    json!({"name": "alice", "admin": false})
}

pub fn user_token() -> Value {
    json!({
        "name": "alice",
        "admin": false,
        "token": "dct_3f9a1c0e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a",
    })
}

pub fn disabled_user() -> Value {
    json!({
        "name": "alice",
        "admin": false,
        "disabled": true,
        "disabled_at": "2026-12-04T12:00:00.123456Z",
        "jobs_finished": [JOB_ID],
        "runs_stopped": 0,
    })
}
