//! Starting a run's process without copying the worker's address space.
//!
//! `fork` copies the parent's page tables and then makes it take copy-on-write faults; in a
//! worker that starts thousands of processes at the same instant that was most of its cost.
//! This does what glibc's `posix_spawn` does — `clone(2)` with `CLONE_VM | CLONE_VFORK`, the
//! child running on a stack of its own while the calling thread waits for its `execve` — plus
//! the two things `posix_spawn` cannot: switching to the run's user and joining the run's
//! cgroup. The child shares the worker's memory until it execs, so it may only make system
//! calls on data prepared beforehand: no allocation, no locks, no Rust runtime. It resets every
//! signal handler before it unblocks signals, so no handler of the worker's runs in it, and it
//! switches user with raw system calls, since glibc's `setuid` would try to reach the worker's
//! other threads.

#![allow(unsafe_code)]

use nix::fcntl::OFlag;
use nix::libc;
use nix::unistd::pipe2;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

/// What to start and how.
pub struct Request<'a> {
    /// The file to execute (no PATH search).
    pub program: &'a CStr,
    /// `argv`, starting with `argv[0]`.
    pub args: &'a [CString],
    /// The whole environment, as `NAME=value`.
    pub env: &'a [CString],
    pub cwd: &'a CStr,
    /// (uid, gid) to switch to, dropping supplementary groups; `None` keeps the worker's.
    pub user: Option<(u32, u32)>,
    /// An open `cgroup.procs` of the cgroup to join.
    pub cgroup_procs: Option<BorrowedFd<'a>>,
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// A started process, in its own process group (its pid is the group's id).
pub struct Spawned {
    pub pid: i32,
    /// Readable once the process has exited; reap it with `waitid(P_PIDFD)`.
    pub pidfd: OwnedFd,
}

/// Which step of the child's setup failed: reported with the errno.
const STAGES: [&str; 6] = [
    "reset signals",
    "join the cgroup",
    "set up stdio",
    "change directory",
    "switch user",
    "execute",
];

/// Everything the child reads, prepared by the parent. Pointers stay valid: the calling thread
/// (whose frame owns them) is suspended until the child has exec'd or exited.
#[repr(C)]
struct ChildArgs {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    switch_user: bool,
    uid: u32,
    gid: u32,
    cgroup_procs: RawFd,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    error_pipe: RawFd,
    /// The highest signal number, read by the parent (the child must not call into libc for it).
    last_signal: c_int,
    mask: libc::sigset_t,
}

const STACK_SIZE: usize = 64 * 1024;

thread_local! {
    /// The child's stack. One per thread suffices: the thread is suspended while it is in use.
    static STACK: RefCell<Vec<u8>> = RefCell::new(vec![0; STACK_SIZE]);
}

/// Reports a failed setup step to the parent and exits.
unsafe fn fail(a: &ChildArgs, stage: u32) -> ! {
    let report = [stage, unsafe { *libc::__errno_location() } as u32];
    unsafe {
        libc::write(
            a.error_pipe,
            report.as_ptr().cast(),
            std::mem::size_of_val(&report),
        );
        libc::_exit(127)
    }
}

extern "C" fn child(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` points at the parent's `ChildArgs`, alive while the parent is suspended.
    // Only async-signal-safe system calls follow, on prepared data, ending in execve or _exit.
    unsafe {
        let a = &*(arg as *const ChildArgs);
        // No handler of the worker's may run here: back to the defaults (ignored stays ignored).
        for sig in 1..=a.last_signal {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_IGN
                && old.sa_sigaction != libc::SIG_DFL
            {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                if libc::sigaction(sig, &dfl, ptr::null_mut()) != 0 {
                    fail(a, 0);
                }
            }
        }
        if libc::setpgid(0, 0) != 0 {
            fail(a, 0);
        }
        if a.cgroup_procs >= 0 && libc::write(a.cgroup_procs, b"0".as_ptr().cast(), 1) != 1 {
            fail(a, 1);
        }
        if libc::dup2(a.stdin, 0) < 0 || libc::dup2(a.stdout, 1) < 0 || libc::dup2(a.stderr, 2) < 0
        {
            fail(a, 2);
        }
        if libc::chdir(a.cwd) != 0 {
            fail(a, 3);
        }
        if a.switch_user {
            // Raw calls: they change this process only, which is exactly what is wanted here.
            if libc::syscall(libc::SYS_setgroups, 0, ptr::null::<libc::gid_t>()) != 0
                || libc::syscall(libc::SYS_setresgid, a.gid, a.gid, a.gid) != 0
                || libc::syscall(libc::SYS_setresuid, a.uid, a.uid, a.uid) != 0
            {
                fail(a, 4);
            }
        }
        // The worker's signal mask, as it was before the spawn blocked everything.
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &a.mask as *const libc::sigset_t,
            ptr::null_mut::<libc::sigset_t>(),
            8,
        );
        libc::execve(a.program, a.argv, a.envp);
        fail(a, 5)
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}

/// Starts the process. Returns once it has exec'd, or with the reason it could not.
pub fn spawn(req: &Request<'_>) -> io::Result<Spawned> {
    let argv = null_terminated(req.args);
    let envp = null_terminated(req.env);
    let (error_read, error_write) = pipe2(OFlag::O_CLOEXEC)?;
    let mut args = ChildArgs {
        program: req.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: req.cwd.as_ptr(),
        switch_user: req.user.is_some(),
        uid: req.user.map_or(0, |u| u.0),
        gid: req.user.map_or(0, |u| u.1),
        cgroup_procs: req.cgroup_procs.map_or(-1, |fd| fd.as_raw_fd()),
        stdin: req.stdin.as_raw_fd(),
        stdout: req.stdout.as_raw_fd(),
        stderr: req.stderr.as_raw_fd(),
        error_pipe: error_write.as_raw_fd(),
        last_signal: libc::SIGRTMAX(),
        // SAFETY: a plain C struct, filled in below.
        mask: unsafe { std::mem::zeroed() },
    };
    let pid = STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        // SAFETY: the stack outlives the child's use of it (the thread waits for the exec), and
        // its top is aligned as the ABI wants. Signals are blocked across clone so that none
        // reaches the child before it has reset its handlers.
        unsafe {
            let top = stack.as_mut_ptr().add(STACK_SIZE);
            let top = top.sub(top as usize % 16);
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut args.mask);
            let pid = libc::clone(
                child,
                top.cast(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut args as *mut ChildArgs).cast(),
            );
            let clone_error = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &args.mask, ptr::null_mut());
            if pid < 0 { Err(clone_error) } else { Ok(pid) }
        }
    })?;
    drop(error_write);
    let mut report = [0u32; 2];
    // SAFETY: reading into a local buffer of the given size.
    let n = unsafe {
        libc::read(
            error_read.as_raw_fd(),
            report.as_mut_ptr().cast(),
            std::mem::size_of_val(&report),
        )
    };
    if n == std::mem::size_of_val(&report) as isize {
        // SAFETY: reaping our own child, which has exited.
        unsafe { libc::waitpid(pid, ptr::null_mut(), 0) };
        let stage = STAGES.get(report[0] as usize).unwrap_or(&"start");
        let cause = io::Error::from_raw_os_error(report[1] as i32);
        return Err(io::Error::new(
            cause.kind(),
            format!("cannot {stage}: {cause}"),
        ));
    }
    // SAFETY: pidfd_open on our own, unreaped child.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        let e = io::Error::last_os_error();
        unsafe { libc::kill(pid, libc::SIGKILL) };
        unsafe { libc::waitpid(pid, ptr::null_mut(), 0) };
        return Err(e);
    }
    // SAFETY: a fresh descriptor we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    Ok(Spawned { pid, pidfd })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    use std::io::Read;
    use std::os::fd::AsFd;

    fn c(s: &str) -> CString {
        CString::new(s).expect("no NUL")
    }

    fn run(args: &[&str], cwd: &str) -> (io::Result<WaitStatus>, String) {
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).expect("pipe");
        let devnull = std::fs::File::open("/dev/null").expect("null");
        let args: Vec<CString> = args.iter().map(|a| c(a)).collect();
        let env = vec![c("PATH=/usr/bin:/bin"), c("GREETING=hello")];
        let cwd = c(cwd);
        let spawned = spawn(&Request {
            program: &args[0],
            args: &args,
            env: &env,
            cwd: &cwd,
            user: None,
            cgroup_procs: None,
            stdin: devnull.as_fd(),
            stdout: out_w.as_fd(),
            stderr: out_w.as_fd(),
        });
        drop(out_w);
        let status = spawned
            .map(|s| waitid(Id::PIDFd(s.pidfd.as_fd()), WaitPidFlag::WEXITED).expect("waitid"));
        let mut out = String::new();
        std::fs::File::from(out_r)
            .read_to_string(&mut out)
            .expect("read");
        (status, out)
    }

    #[test]
    fn a_spawned_process_gets_its_arguments_environment_directory_and_own_group() {
        let (status, out) = run(
            &[
                "/bin/sh",
                "-c",
                "echo $GREETING; pwd; [ \"$(cut -d' ' -f5 /proc/$$/stat)\" = \"$$\" ] && echo leader; exit 3",
            ],
            "/tmp",
        );
        assert!(matches!(status, Ok(WaitStatus::Exited(_, 3))), "{status:?}");
        assert_eq!(out, "hello\n/tmp\nleader\n");
    }

    #[test]
    fn a_program_that_cannot_start_says_why() {
        let (status, _) = run(&["/nonexistent/program"], "/");
        let err = status.expect_err("no such program");
        assert!(err.to_string().contains("cannot execute"), "{err}");
        let (status, _) = run(&["/bin/true"], "/nonexistent/dir");
        assert!(
            status
                .expect_err("no such dir")
                .to_string()
                .contains("cannot change directory")
        );
    }
}
