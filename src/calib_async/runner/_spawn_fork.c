/* The native spawn's child: created with vfork(), or with clone3(CLONE_VM | CLONE_VFORK |
 * CLONE_INTO_CGROUP) to start it inside the run's cgroup, it sets itself up and execs the
 * checker. No Python here: the child borrows the parent's memory until it execs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "_spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int
redirect(int fd, int target)
{
    if (fd == target) /* already in place: only drop close-on-exec */
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/* Runs in the vfork child: only async-signal-safe calls, no return. */
static void
child(const char *exe, char *const *argv, char *const *envp, const char *cwd, int fd_in,
      int fd_out, int fd_err, const int *resources, const struct rlimit *limits, int nlimits,
      int cgroup_fd, int deathsig, pid_t parent, const sigset_t *old_mask,
      volatile struct failure *failed)
{
    int step = 0;
    for (int sig = 1; sig < _NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) != 0)
            continue;
        if (sa.sa_handler == SIG_DFL)
            continue;
        if (sa.sa_handler == SIG_IGN && sig != SIGPIPE && sig != SIGXFSZ)
            continue; /* ignored stays ignored across exec, as in Popen */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
    }
    step = 1;
    if (setsid() < 0)
        goto fail;
    if (deathsig > 0) {
        step = 2;
        if (prctl(PR_SET_PDEATHSIG, deathsig) != 0)
            goto fail;
        step = 3;
        if (getppid() != parent) {
            errno = ESRCH;
            goto fail;
        }
    }
    step = 4;
    for (int i = 0; i < nlimits; i++)
        if (setrlimit(resources[i], &limits[i]) != 0)
            goto fail;
    step = 5;
    if (cgroup_fd >= 0 && write(cgroup_fd, "0", 1) != 1)
        goto fail;
    step = 6;
    if (redirect(fd_in, 0) || redirect(fd_out, 1) || redirect(fd_err, 2))
        goto fail;
    step = 7;
    if (cwd != NULL && chdir(cwd) != 0)
        goto fail;
    /* Every other fd closes at the exec (Python's are already close-on-exec: this covers fds a
     * C library opened without it). Old kernels without close_range keep their flags. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    step = 8;
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    execve(exe, argv, envp);
fail:
    failed->err = errno;
    failed->step = step;
    _exit(127);
}

/* ---- clone3 into the cgroup ------------------------------------------------------------- */
/* Writing cgroup.procs migrates the child, which takes the global cgroup_threadgroup_rwsem for
 * writing: an RCU grace period (milliseconds) during which the slot is idle and every fork and
 * exit of the machine waits. clone3(CLONE_INTO_CGROUP) (Linux >= 5.7) starts the child in the
 * cgroup instead. glibc 2.36 has no wrapper for it, so on x86-64 a few lines of assembly make
 * the call (the child runs fn(arg) on its own stack, as glibc's clone() does); elsewhere, or
 * when the kernel or a seccomp filter refuses clone3, the vfork path writes cgroup.procs. */
#if defined(__x86_64__) && defined(__linux__)
#define HAVE_CLONE3 1
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
struct clone_args_k {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};
/* long calib_clone3(struct clone_args_k *args, size_t size, int (*fn)(void *), void *arg):
 * the parent gets the pid or -errno; the child calls fn(arg) on args->stack and exits. */
long calib_clone3(struct clone_args_k *, size_t, int (*)(void *), void *)
    __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".p2align 4\n"
        ".type calib_clone3, @function\n"
        "calib_clone3:\n"
        "    mov %rdx, %r8\n"     /* fn: r8 and r9 survive the syscall, in both processes */
        "    mov %rcx, %r9\n"     /* arg */
        "    mov $435, %eax\n"    /* SYS_clone3 */
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 1f\n"
        "    xor %ebp, %ebp\n"    /* child: on its own stack, set by the kernel */
        "    and $-16, %rsp\n"
        "    mov %r9, %rdi\n"
        "    call *%r8\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n"     /* SYS_exit: fn does not return, but never fall through */
        "    syscall\n"
        "    hlt\n"
        "1:  ret\n"
        ".size calib_clone3, .-calib_clone3\n");

#define CHILD_STACK (64 * 1024)
static atomic_int clone3_refused; /* ENOSYS, EPERM (seccomp), E2BIG...: use vfork from now on */

struct child_call {
    job_t *j;
    int fd_out, fd_err;
    pid_t parent;
    volatile struct failure *failed;
};

static int
child_entry(void *arg)
{
    struct child_call *c = arg;
    job_t *j = c->j;
    c->failed->ran = 1;
    child(j->exe, j->argv, j->envp, j->cwd, j->fd_in, c->fd_out, c->fd_err, j->resources,
          j->values, j->nlimits, -1, j->deathsig, c->parent, &j->mask, c->failed);
    return 127;
}
#endif

/* vfork (or clone3 into the cgroup) + exec of the job's checker; sets j->step/err on failure.
 * No GIL needed. */
pid_t
job_fork(job_t *j, int fd_out, int fd_err)
{
    volatile struct failure failed = {0, 0, 0};
    pid_t parent = getpid(), pid;
    sigset_t all, old_mask;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_mask);
    pid = -1;
#ifdef HAVE_CLONE3
    if (j->cgroup_dir >= 0 && !atomic_load(&clone3_refused)) {
        char stack[CHILD_STACK] __attribute__((aligned(64)));
        struct child_call call = {j, fd_out, fd_err, parent, &failed};
        struct clone_args_k args = {
            .flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP,
            .exit_signal = SIGCHLD,
            .stack = (uint64_t)(uintptr_t)stack,
            .stack_size = sizeof(stack),
            .cgroup = (uint64_t)j->cgroup_dir,
        };
        long r = calib_clone3(&args, sizeof(args), child_entry, &call);
        if (r > 0)
            pid = (pid_t)r;
        else if (r == -ENOSYS || r == -EPERM || r == -E2BIG || r == -EINVAL)
            atomic_store(&clone3_refused, 1); /* and this spawn goes the vfork way */
        if (pid > 0 && !failed.ran) {
            /* Resumed, yet the child never ran a line of its own: it was SIGKILLed on entry.
             * Some kernels (6.18 here) kill a child cloned into a cgroup that had a
             * cgroup.kill, however long ago (the pool retires such cgroups; this is the
             * safety net). Reap it; vfork from now on. */
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            atomic_store(&clone3_refused, 1);
            pid = -1;
        }
    }
#endif
    if (pid < 0) {
        pid = vfork();
        if (pid == 0)
            child(j->exe, j->argv, j->envp, j->cwd, j->fd_in, fd_out, fd_err, j->resources,
                  j->values, j->nlimits, j->cgroup_fd, j->deathsig, parent, &j->mask, &failed);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (pid < 0) {
        j->step = STEP_EXEC;
        j->err = saved;
        return -1;
    }
    if (failed.step != 0) { /* the child has exited: reap it */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        j->step = failed.step;
        j->err = failed.err;
        return -1;
    }
    return pid;
}
