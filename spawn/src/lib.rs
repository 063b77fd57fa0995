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
//!
//! With a `Sandbox`, the child also enters a mount namespace of its own (like systemd's
//! `PrivateTmp`): a fresh tmpfs on `/tmp`, which disappears with the run; a `/proc` that shows
//! only the run user's processes; and the verified executable bound into that `/tmp`, so the
//! worker's cache itself stays closed to run users. Last, every descriptor beyond stdio is
//! marked close-on-exec, whatever the worker inherited.

#![allow(unsafe_code)]

use nix::fcntl::OFlag;
use nix::libc;
use nix::unistd::pipe2;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
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
    /// Open `cgroup.procs` files of the cgroups to join (v2's and the v1 ones), at most
    /// `MAX_CGROUPS`.
    pub cgroup_procs: &'a [BorrowedFd<'a>],
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
    /// A private `/tmp` and `/proc` (see the module's doc); `None` runs in the host's view.
    pub sandbox: Option<Sandbox<'a>>,
}

/// What a run sees of the file system when it has a mount namespace of its own.
pub struct Sandbox<'a> {
    /// Options of the private `/tmp` tmpfs, e.g. `mode=1777,size=1073741824`.
    pub tmp_options: &'a CStr,
    /// (the file, where in the private `/tmp` to bind it): the executable of a script or
    /// binary job, which `program` then names.
    pub executable: Option<(&'a CStr, &'a CStr)>,
}

/// A started process, in its own process group (its pid is the group's id).
pub struct Spawned {
    pub pid: i32,
    /// Readable once the process has exited; reap it with `waitid(P_PIDFD)`.
    pub pidfd: OwnedFd,
}

/// open_tree(2) and move_mount(2) flags (Linux 5.2), which the libc crate does not name.
const OPEN_TREE_CLONE: c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 0x4;

/// Which step of the child's setup failed: reported with the errno.
const STAGES: [&str; 11] = [
    "reset signals",
    "join the cgroup",
    "set up stdio",
    "change directory",
    "switch user",
    "execute",
    "enter a mount namespace of its own",
    "mount a private /tmp",
    "mount a private /proc",
    "place the executable in its /tmp",
    "close the worker's descriptors",
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
    /// -1 where unused.
    cgroup_procs: [RawFd; MAX_CGROUPS],
    /// Whether to set up the sandbox; its strings follow (null when unused).
    sandbox: bool,
    tmp_options: *const c_char,
    exec_source: *const c_char,
    exec_target: *const c_char,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    error_pipe: RawFd,
    /// The highest signal number, read by the parent (the child must not call into libc for it).
    last_signal: c_int,
    mask: libc::sigset_t,
}

const STACK_SIZE: usize = 64 * 1024;

/// Most cgroups a run joins: v2's and v1's memory, cpu and pids.
pub const MAX_CGROUPS: usize = 4;

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
        for fd in a.cgroup_procs {
            if fd >= 0 && libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(a, 1);
            }
        }
        if a.sandbox {
            enter_sandbox(a);
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
        // Nothing of the worker's beyond stdio survives the exec (the error pipe is already
        // close-on-exec, and must stay open until then).
        if libc::syscall(
            libc::SYS_close_range,
            3 as c_uint,
            c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            fail(a, 10);
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

/// The child's private mount namespace: mounts made here stay here (the namespace is a slave of
/// the host's, so host mounts still show), and vanish with the run's last process.
unsafe fn enter_sandbox(a: &ChildArgs) {
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            fail(a, 6);
        }
        if libc::mount(
            ptr::null(),
            c"/".as_ptr(),
            ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            ptr::null(),
        ) != 0
        {
            fail(a, 6);
        }
        // The executable, taken as a detached bind mount before the private /tmp is mounted
        // (which would hide it if it lay under /tmp), and attached inside that /tmp after.
        let mut tree = -1;
        if !a.exec_source.is_null() {
            tree = libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                a.exec_source,
                OPEN_TREE_CLONE | libc::O_CLOEXEC as c_uint,
            ) as c_int;
            if tree < 0 {
                fail(a, 9);
            }
        }
        if libc::mount(
            c"tmpfs".as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            a.tmp_options.cast(),
        ) != 0
        {
            fail(a, 7);
        }
        if tree >= 0 {
            let fd = libc::open(
                a.exec_target,
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                0o500,
            );
            if fd < 0 {
                fail(a, 9);
            }
            libc::close(fd);
            if libc::syscall(
                libc::SYS_move_mount,
                tree,
                c"".as_ptr(),
                libc::AT_FDCWD,
                a.exec_target,
                MOVE_MOUNT_F_EMPTY_PATH,
            ) != 0
            {
                fail(a, 9);
            }
            libc::close(tree);
        }
        // hidepid=2 ("invisible"): each reader sees only its own processes (root sees all).
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            c"hidepid=2".as_ptr().cast(),
        ) != 0
        {
            fail(a, 8);
        }
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
        cgroup_procs: {
            if req.cgroup_procs.len() > MAX_CGROUPS {
                return Err(io::Error::other("too many cgroups to join"));
            }
            let mut fds = [-1; MAX_CGROUPS];
            for (slot, fd) in fds.iter_mut().zip(req.cgroup_procs) {
                *slot = fd.as_raw_fd();
            }
            fds
        },
        sandbox: req.sandbox.is_some(),
        tmp_options: req
            .sandbox
            .as_ref()
            .map_or(ptr::null(), |s| s.tmp_options.as_ptr()),
        exec_source: req
            .sandbox
            .as_ref()
            .and_then(|s| s.executable)
            .map_or(ptr::null(), |(from, _)| from.as_ptr()),
        exec_target: req
            .sandbox
            .as_ref()
            .and_then(|s| s.executable)
            .map_or(ptr::null(), |(_, to)| to.as_ptr()),
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
        run_with(args, cwd, None, None)
    }

    fn run_with(
        args: &[&str],
        cwd: &str,
        user: Option<(u32, u32)>,
        sandbox: Option<Sandbox<'_>>,
    ) -> (io::Result<WaitStatus>, String) {
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
            user,
            cgroup_procs: &[],
            sandbox,
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

    #[test]
    fn a_sandboxed_process_has_its_own_tmp_and_proc_and_none_of_the_parents_descriptors() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test needs root (mount namespaces, switching user): run it as root");
        }
        // A descriptor the parent has without close-on-exec, as a worker may inherit one.
        let leaked = std::fs::File::open("/dev/null").expect("open");
        nix::fcntl::fcntl(
            &leaked,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .expect("clear cloexec");
        let marker = format!("/tmp/distcron-spawn-test-{}", std::process::id());
        let script = format!(
            "ls /proc/self/fd | tr '\\n' ' '; echo; ls -A /tmp | wc -l; echo x > {marker}; \
             [ -e /proc/1 ] && echo sees-pid-1 || echo pid-1-hidden; cat /proc/self/mountinfo | grep -c ' /tmp '"
        );
        let tmp = c("mode=1777,size=1048576");
        let sandbox = Sandbox {
            tmp_options: &tmp,
            executable: None,
        };
        let (status, out) = run_with(
            &["/bin/sh", "-c", &script],
            "/tmp",
            Some((65534, 65534)),
            Some(sandbox),
        );
        assert!(
            matches!(status, Ok(WaitStatus::Exited(_, 0))),
            "{status:?}: {out}"
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].trim(),
            "0 1 2 3",
            "only stdio (and ls's own directory): {out}"
        );
        assert_eq!(lines[1].trim(), "0", "a fresh, empty /tmp: {out}");
        assert_eq!(
            lines[2], "pid-1-hidden",
            "other users' processes are hidden: {out}"
        );
        assert!(
            !std::path::Path::new(&marker).exists(),
            "the run's /tmp is not the host's"
        );
        drop(leaked);
    }

    #[test]
    fn a_sandboxed_executable_is_bound_into_the_private_tmp_from_a_closed_directory() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test needs root (mount namespaces, switching user): run it as root");
        }
        let dir = tempfile::tempdir().expect("dir");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        let file = dir.path().join("job");
        std::fs::write(&file, "#!/bin/sh\necho bound $(id -u)\n").expect("write");
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        // Under /tmp (tempdir's default), which the private /tmp hides: still found.
        let source = c(&file.display().to_string());
        let target = c("/tmp/.distcron-job");
        let tmp = c("mode=1777,size=1048576");
        let sandbox = Sandbox {
            tmp_options: &tmp,
            executable: Some((&source, &target)),
        };
        let (status, out) = run_with(
            &["/tmp/.distcron-job"],
            "/tmp",
            Some((65534, 65534)),
            Some(sandbox),
        );
        assert!(
            matches!(status, Ok(WaitStatus::Exited(_, 0))),
            "{status:?}: {out}"
        );
        assert_eq!(out, "bound 65534\n");
    }
}
