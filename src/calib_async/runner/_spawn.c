/* calib_async.runner._spawn: start one checker with no helper exec.
 *
 * spawn(exe, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, rlimits, cgroup_procs_fd,
 *       cgroup_dir_fd, deathsig) -> pid      (from the calling thread)
 * submit(..., efd) -> Spawn                 (from a native spawn thread; see below)
 *
 * The child is created with vfork() (it borrows the parent's memory until it execs, so the
 * parent pays no page-table copy), or, to start it inside the run's cgroup, with
 * clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP) (see "clone3 into the cgroup"), from a
 * thread that has every signal blocked. Before the
 * exec it does, in this order: reset every caught signal to its default (and SIGPIPE/SIGXFSZ,
 * which Python ignores), setsid(), PR_SET_PDEATHSIG (then exits if the parent is already gone),
 * each setrlimit, a write of "0" to the cgroup's cgroup.procs when clone3 did not already
 * start it there (the child moves itself, so nothing it forks can start outside it), dup2 of the three fds onto 0/1/2, chdir,
 * mark every other fd close-on-exec, unblock every signal, execve. This is what
 * subprocess.Popen(start_new_session=True) does, plus the limits, the cgroup and the death
 * signal that otherwise cost a dash wrapper and a setpriv exec per run.
 *
 * A failing step stores its errno and a step number in a variable the child shares with the
 * parent (vfork) and _exit(127)s; the parent, resumed once the child has exec'd or exited,
 * reaps such a child itself and raises OSError(errno, "<step>", exe).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_LIMITS 8

static const char *const STEPS[] = {
    "", "cannot start a new session", "cannot set the parent-death signal",
    "the driver exited before the checker started", "cannot set a resource limit",
    "cannot join the run's cgroup", "cannot redirect stdin/stdout/stderr",
    "cannot change to the working directory", "cannot execute",
    "cannot create the run's working directory", "cannot create the output pipes",
    "cannot watch the checker", "cannot start a spawn thread",
};
enum { STEP_EXEC = 8, STEP_MKDIR, STEP_PIPE, STEP_WATCH, STEP_THREAD };

struct failure {
    int step;
    int err;
    int ran; /* the clone3 child got to run its own code (set first thing) */
};

static void
free_strings(char **v, Py_ssize_t n)
{
    if (v == NULL)
        return;
    for (Py_ssize_t i = 0; i < n; i++)
        PyMem_RawFree(v[i]);
    PyMem_RawFree(v);
}

/* A NULL-terminated copy of a sequence of bytes; NULL with an exception set on error. Raw
 * allocations: the last holder of a job may free it in a spawn thread, without the GIL. */
static char **
to_strings(PyObject *seq, const char *what, Py_ssize_t *count)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    char **v = PyMem_RawCalloc((size_t)n + 1, sizeof(char *));
    if (v == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        char *data;
        Py_ssize_t size;
        if (PyBytes_AsStringAndSize(item, &data, &size) < 0 ||
            (Py_ssize_t)strlen(data) != size) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "%s: embedded null byte", what);
            free_strings(v, i);
            Py_DECREF(fast);
            return NULL;
        }
        v[i] = PyMem_RawMalloc((size_t)size + 1);
        if (v[i] == NULL) {
            free_strings(v, i);
            Py_DECREF(fast);
            PyErr_NoMemory();
            return NULL;
        }
        memcpy(v[i], data, (size_t)size + 1);
    }
    Py_DECREF(fast);
    *count = n;
    return v;
}

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

/* ---- one spawn: its inputs (owned C copies) and its outcome ---------------------------- */

typedef struct job {
    PyObject *exe_obj; /* bytes; touched only with the GIL */
    char *exe, *cwd, *workdir;
    char **argv, **envp;
    Py_ssize_t nargv, nenv;
    int fd_in, cgroup_fd, cgroup_dir, deathsig, efd;
    int resources[MAX_LIMITS];
    struct rlimit values[MAX_LIMITS];
    int nlimits;
    sigset_t mask; /* the checker starts with it: empty */
    /* outcome, written by the spawn thread before it signals efd */
    pid_t pid;
    int pidfd, r_out, r_err, workdir_made, step, err;
    atomic_int done, signalled;
    atomic_int refs; /* the Python object and the spawn thread: the last one frees */
    struct job *next;
} job_t;

static void
job_free(job_t *j)
{
    free_strings(j->argv, j->nargv);
    free_strings(j->envp, j->nenv);
    PyMem_RawFree(j->cwd);
    PyMem_RawFree(j->workdir);
    if (atomic_load(&j->done) && j->step == 0 && j->pidfd >= 0) {
        /* started but never claimed (the caller's wait was interrupted): nobody else will
         * watch it, so kill its group and reap it, and close its fds */
        kill(-j->pid, SIGKILL);
        kill(j->pid, SIGKILL);
        while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        close(j->pidfd);
        close(j->r_out);
        close(j->r_err);
    }
    PyMem_RawFree(j);
}

static void
job_release(job_t *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1)
        job_free(j);
}

static char *
raw_copy(PyObject *bytes)
{
    Py_ssize_t n = PyBytes_GET_SIZE(bytes);
    char *p = PyMem_RawMalloc((size_t)n + 1);
    if (p == NULL)
        PyErr_NoMemory();
    else
        memcpy(p, PyBytes_AS_STRING(bytes), (size_t)n + 1);
    return p;
}

/* Parse the common arguments into a new job (refs = 1); NULL with an exception set. */
static job_t *
job_new(PyObject *exe_obj, PyObject *argv_obj, PyObject *env_obj, PyObject *cwd_obj,
        PyObject *workdir_obj, PyObject *limits_obj)
{
    job_t *j = PyMem_RawCalloc(1, sizeof(job_t));
    PyObject *limits = NULL, *cwd_bytes = NULL, *workdir_bytes = NULL;
    if (j == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    atomic_init(&j->refs, 1);
    atomic_init(&j->done, 0);
    atomic_init(&j->signalled, 0);
    j->exe_obj = exe_obj;
    j->pidfd = j->r_out = j->r_err = -1;
    if (!(j->exe = raw_copy(exe_obj)))
        goto fail;
    if (!(j->argv = to_strings(argv_obj, "argv must be a sequence of bytes", &j->nargv)))
        goto fail;
    if (j->nargv == 0) {
        PyErr_SetString(PyExc_ValueError, "argv must not be empty");
        goto fail;
    }
    if (!(j->envp = to_strings(env_obj, "env must be a sequence of bytes", &j->nenv)))
        goto fail;
    if (cwd_obj != Py_None) {
        if (!PyUnicode_FSConverter(cwd_obj, &cwd_bytes) || !(j->cwd = raw_copy(cwd_bytes)))
            goto fail;
        if ((size_t)PyBytes_GET_SIZE(cwd_bytes) != strlen(j->cwd)) {
            PyErr_SetString(PyExc_ValueError, "cwd: embedded null byte");
            goto fail;
        }
    }
    if (workdir_obj != Py_None) {
        if (!PyUnicode_FSConverter(workdir_obj, &workdir_bytes) ||
            !(j->workdir = raw_copy(workdir_bytes)))
            goto fail;
    }
    limits = PySequence_Fast(limits_obj, "rlimits must be a sequence of (resource, soft, hard)");
    if (limits == NULL)
        goto fail;
    if (PySequence_Fast_GET_SIZE(limits) > MAX_LIMITS) {
        PyErr_SetString(PyExc_ValueError, "too many rlimits");
        goto fail;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(limits); i++) {
        unsigned long long soft, hard;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(limits, i), "iKK", &j->resources[i],
                              &soft, &hard))
            goto fail;
        j->values[i].rlim_cur = (rlim_t)soft;
        j->values[i].rlim_max = (rlim_t)hard;
        j->nlimits++;
    }
    Py_DECREF(limits);
    Py_XDECREF(cwd_bytes);
    Py_XDECREF(workdir_bytes);
    sigemptyset(&j->mask); /* whatever the submitting thread blocks, a checker blocks nothing */
    return j;
fail:
    Py_XDECREF(limits);
    Py_XDECREF(cwd_bytes);
    Py_XDECREF(workdir_bytes);
    job_free(j);
    return NULL;
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
static pid_t
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

static PyObject *
raise_step(int step, int err, PyObject *exe_obj)
{
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "isO", err, STEPS[step], exe_obj);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *
spawn(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *exe_obj, *argv_obj, *env_obj, *cwd_obj, *limits_obj, *result = NULL;
    int fd_in, fd_out, fd_err, cgroup_fd, cgroup_dir, deathsig;
    if (!PyArg_ParseTuple(args, "O&OOOiiiOiii:spawn", PyUnicode_FSConverter, &exe_obj,
                          &argv_obj, &env_obj, &cwd_obj, &fd_in, &fd_out, &fd_err, &limits_obj,
                          &cgroup_fd, &cgroup_dir, &deathsig))
        return NULL;
    job_t *j = job_new(exe_obj, argv_obj, env_obj, cwd_obj, Py_None, limits_obj);
    if (j != NULL) {
        pid_t pid;
        j->fd_in = fd_in;
        j->cgroup_fd = cgroup_fd;
        j->cgroup_dir = cgroup_dir;
        j->deathsig = deathsig;
        Py_BEGIN_ALLOW_THREADS
        pid = job_fork(j, fd_out, fd_err);
        Py_END_ALLOW_THREADS
        result = pid < 0 ? raise_step(j->step, j->err, exe_obj) : PyLong_FromLong((long)pid);
        job_free(j);
    }
    Py_DECREF(exe_obj);
    return result;
}

/* ---- spawn threads ---------------------------------------------------------------------- */
/* Long-lived pthreads that never run Python: a vfork suspends its thread until the child
 * execs (milliseconds on a busy machine), so the event loop hands spawns to them. They never
 * exit while the process lives, which PR_SET_PDEATHSIG needs (it fires when the spawning
 * *thread* ends). One thread per spawn in flight, up to MAX_THREADS. */

#define MAX_THREADS 64

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static job_t *queue_head, *queue_tail;
static int pool_threads, pool_idle;

static void
close_quietly(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* The whole spawn of one job, in a spawn thread: working directory, pipes, the checker, its
 * pidfd; then done, and (last) a write to the caller's eventfd. */
static void
run_job(job_t *j)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    pid_t pid = -1;
    if (j->workdir != NULL) {
        if (mkdir(j->workdir, 0700) != 0) {
            j->step = STEP_MKDIR;
            j->err = errno;
            goto signal;
        }
        j->workdir_made = 1;
    }
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        j->step = STEP_PIPE;
        j->err = errno;
        goto cleanup;
    }
    pid = job_fork(j, out[1], err[1]);
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;
    if (pid < 0)
        goto cleanup;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) { /* cannot be watched (EMFILE): kill and reap it here */
        j->step = STEP_WATCH;
        j->err = errno;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goto cleanup;
    }
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    j->pid = pid;
    j->pidfd = pidfd;
    j->r_out = out[0];
    j->r_err = err[0];
    goto signal;
cleanup:
    close_quietly(out[0]);
    close_quietly(out[1]);
    close_quietly(err[0]);
    close_quietly(err[1]);
signal:
    atomic_store(&j->done, 1);
    uint64_t one = 1;
    while (write(j->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    atomic_store(&j->signalled, 1); /* efd is not used any more: the caller may close it */
    job_release(j);
}

static void *
serve(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&pool_lock);
        while (queue_head == NULL) {
            pool_idle++;
            pthread_cond_wait(&pool_cond, &pool_lock);
            pool_idle--;
        }
        job_t *j = queue_head;
        queue_head = j->next;
        if (queue_head == NULL)
            queue_tail = NULL;
        pthread_mutex_unlock(&pool_lock);
        run_job(j);
    }
    return NULL;
}

static void
after_fork_in_child(void)
{ /* the spawn threads did not come along: start afresh (queued jobs are the parent's) */
    pthread_mutex_init(&pool_lock, NULL);
    pthread_cond_init(&pool_cond, NULL);
    queue_head = queue_tail = NULL;
    pool_threads = pool_idle = 0;
}

/* ---- the Python handle of a submitted spawn ---------------------------------------------- */

typedef struct {
    PyObject_HEAD
    job_t *job;
} SpawnObject;

static void
Spawn_dealloc(SpawnObject *self)
{
    if (self->job != NULL) {
        Py_CLEAR(self->job->exe_obj);
        job_release(self->job);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Spawn_result(SpawnObject *self, PyObject *unused)
{
    (void)unused;
    job_t *j = self->job;
    if (!atomic_load(&j->done)) {
        PyErr_SetString(PyExc_RuntimeError, "the spawn has not finished: await its eventfd");
        return NULL;
    }
    if (j->step != 0)
        return raise_step(j->step, j->err, j->exe_obj);
    if (j->pidfd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "result() already taken");
        return NULL;
    }
    PyObject *r = Py_BuildValue("iiii", (int)j->pid, j->pidfd, j->r_out, j->r_err);
    if (r != NULL)
        j->pidfd = j->r_out = j->r_err = -1; /* the caller owns them now */
    return r;
}

static PyObject *
Spawn_workdir_made(SpawnObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(atomic_load(&self->job->done) && self->job->workdir_made);
}

static PyObject *
Spawn_done(SpawnObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(atomic_load(&self->job->done));
}

static PyObject *
Spawn_signalled(SpawnObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(atomic_load(&self->job->signalled));
}

static PyMethodDef Spawn_methods[] = {
    {"result", (PyCFunction)Spawn_result, METH_NOARGS,
     "(pid, pidfd, stdout read fd, stderr read fd), once the eventfd was written; the caller "
     "owns the fds and must reap the pid. Raises OSError(errno, step, exe) if the spawn failed "
     "(then nothing is left to reap)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Spawn_getset[] = {
    {"workdir_made", (getter)Spawn_workdir_made, NULL,
     "Whether this spawn created the working directory (the caller removes it).", NULL},
    {"done", (getter)Spawn_done, NULL,
     "Whether the outcome is set (true before the eventfd is written).", NULL},
    {"signalled", (getter)Spawn_signalled, NULL,
     "Whether the spawn thread has written the eventfd (and will not touch it again).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SpawnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "calib_async.runner._spawn.Spawn",
    .tp_basicsize = sizeof(SpawnObject),
    .tp_dealloc = (destructor)Spawn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A spawn handed to a spawn thread (submit()).",
    .tp_methods = Spawn_methods,
    .tp_getset = Spawn_getset,
};

static PyObject *
submit(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *exe_obj, *argv_obj, *env_obj, *cwd_obj, *workdir_obj, *limits_obj;
    int fd_in, cgroup_fd, cgroup_dir, deathsig, efd;
    if (!PyArg_ParseTuple(args, "O&OOOOiOiiii:submit", PyUnicode_FSConverter, &exe_obj,
                          &argv_obj, &env_obj, &cwd_obj, &workdir_obj, &fd_in, &limits_obj,
                          &cgroup_fd, &cgroup_dir, &deathsig, &efd))
        return NULL;
    job_t *j = job_new(exe_obj, argv_obj, env_obj, cwd_obj, workdir_obj, limits_obj);
    if (j == NULL) {
        Py_DECREF(exe_obj);
        return NULL;
    }
    j->fd_in = fd_in;
    j->cgroup_fd = cgroup_fd;
    j->cgroup_dir = cgroup_dir;
    j->deathsig = deathsig;
    j->efd = efd;
    SpawnObject *obj = PyObject_New(SpawnObject, &SpawnType);
    if (obj == NULL) {
        Py_DECREF(exe_obj);
        job_free(j);
        return NULL;
    }
    obj->job = j; /* owns exe_obj's reference */
    atomic_fetch_add(&j->refs, 1); /* the spawn thread's */
    int failed = 0;
    pthread_mutex_lock(&pool_lock);
    if (queue_tail)
        queue_tail->next = j;
    else
        queue_head = j;
    queue_tail = j;
    if (pool_idle == 0 && pool_threads < MAX_THREADS) {
        pthread_t t;
        pthread_attr_t attr;
        sigset_t all, old;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* spawn threads take no signals */
        if (pthread_create(&t, &attr, serve, NULL) == 0)
            pool_threads++;
        else if (pool_threads == 0)
            failed = 1;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    if (failed) { /* no thread can ever serve it: take it back */
        queue_head = queue_tail = NULL;
        atomic_fetch_sub(&j->refs, 1);
    }
    else
        pthread_cond_signal(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
    if (failed) {
        raise_step(STEP_THREAD, EAGAIN, exe_obj);
        Py_DECREF(obj); /* releases exe_obj too */
        return NULL;
    }
    return (PyObject *)obj;
}

static PyMethodDef methods[] = {
    {"spawn", spawn, METH_VARARGS,
     "spawn(exe, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, rlimits, cgroup_procs_fd, "
     "cgroup_dir_fd, deathsig) -> pid\n\nStart exe in a new session with the limits, cgroup "
     "and parent-death signal applied before the exec, from the calling thread; "
     "OSError(errno, step, exe) if any step fails."},
    {"submit", submit, METH_VARARGS,
     "submit(exe, argv, envp, cwd, workdir, stdin_fd, rlimits, cgroup_procs_fd, cgroup_dir_fd, "
     "deathsig, "
     "efd) -> Spawn\n\nHand the spawn to a spawn thread, which creates workdir (if not None), "
     "two pipes, the checker and its pidfd, then writes 1 to the eventfd efd (its last use of "
     "it: keep efd open until then); then Spawn.result() gives (pid, pidfd, stdout fd, stderr "
     "fd)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_spawn",
    .m_doc = "Start checkers with no helper exec (vfork), from spawn threads.", .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__spawn(void)
{
    if (PyType_Ready(&SpawnType) < 0)
        return NULL;
    pthread_atfork(NULL, NULL, after_fork_in_child);
    return PyModule_Create(&module);
}
