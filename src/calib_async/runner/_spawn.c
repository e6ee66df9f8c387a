/* calib_async.runner._spawn: start one checker with no helper exec.
 *
 * spawn(exe, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, rlimits, cgroup_procs_fd,
 *       deathsig) -> pid
 *
 * The child is created with vfork() (it borrows the parent's memory until it execs, so the
 * parent pays no page-table copy), from a thread that has every signal blocked. Before the
 * exec it does, in this order: reset every caught signal to its default (and SIGPIPE/SIGXFSZ,
 * which Python ignores), setsid(), PR_SET_PDEATHSIG (then exits if the parent is already gone),
 * each setrlimit, a write of "0" to the cgroup's cgroup.procs (the child moves itself, so
 * nothing it forks can start outside the cgroup), dup2 of the three fds onto 0/1/2, chdir,
 * mark every other fd close-on-exec, restore the signal mask, execve. This is what
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
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
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
};

struct failure {
    int step;
    int err;
};

static void
free_strings(char **v, Py_ssize_t n)
{
    if (v == NULL)
        return;
    for (Py_ssize_t i = 0; i < n; i++)
        PyMem_Free(v[i]);
    PyMem_Free(v);
}

/* A NULL-terminated copy of a sequence of bytes; NULL with an exception set on error. */
static char **
to_strings(PyObject *seq, const char *what, Py_ssize_t *count)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    char **v = PyMem_Calloc((size_t)n + 1, sizeof(char *));
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
        v[i] = PyMem_Malloc((size_t)size + 1);
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

static PyObject *
spawn(PyObject *module, PyObject *args)
{
    PyObject *exe_obj, *argv_obj, *env_obj, *cwd_obj, *limits_obj;
    int fd_in, fd_out, fd_err, cgroup_fd, deathsig;
    if (!PyArg_ParseTuple(args, "O&OOOiiiOii:spawn", PyUnicode_FSConverter, &exe_obj,
                          &argv_obj, &env_obj, &cwd_obj, &fd_in, &fd_out, &fd_err, &limits_obj,
                          &cgroup_fd, &deathsig))
        return NULL;

    PyObject *result = NULL, *cwd_bytes = NULL, *limits = NULL;
    char **argv = NULL, **envp = NULL;
    Py_ssize_t nargv = 0, nenv = 0;
    int resources[MAX_LIMITS];
    struct rlimit values[MAX_LIMITS];
    int nlimits = 0;

    if (!(argv = to_strings(argv_obj, "argv must be a sequence of bytes", &nargv)))
        goto done;
    if (nargv == 0) {
        PyErr_SetString(PyExc_ValueError, "argv must not be empty");
        goto done;
    }
    if (!(envp = to_strings(env_obj, "env must be a sequence of bytes", &nenv)))
        goto done;
    if (cwd_obj != Py_None && !PyUnicode_FSConverter(cwd_obj, &cwd_bytes))
        goto done;
    limits = PySequence_Fast(limits_obj, "rlimits must be a sequence of (resource, soft, hard)");
    if (limits == NULL)
        goto done;
    if (PySequence_Fast_GET_SIZE(limits) > MAX_LIMITS) {
        PyErr_SetString(PyExc_ValueError, "too many rlimits");
        goto done;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(limits); i++) {
        unsigned long long soft, hard;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(limits, i), "iKK", &resources[i], &soft,
                              &hard))
            goto done;
        values[i].rlim_cur = (rlim_t)soft;
        values[i].rlim_max = (rlim_t)hard;
        nlimits++;
    }

    const char *exe = PyBytes_AS_STRING(exe_obj);
    const char *cwd = cwd_bytes ? PyBytes_AS_STRING(cwd_bytes) : NULL;
    volatile struct failure failed = {0, 0};
    pid_t parent = getpid(), pid;
    int saved_errno = 0;
    sigset_t all, old_mask;
    sigfillset(&all);

    Py_BEGIN_ALLOW_THREADS
    pthread_sigmask(SIG_SETMASK, &all, &old_mask);
    pid = vfork();
    if (pid == 0)
        child(exe, argv, envp, cwd, fd_in, fd_out, fd_err, resources, values, nlimits,
              cgroup_fd, deathsig, parent, &old_mask, &failed);
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (pid > 0 && failed.step != 0) { /* the child has exited: reap it */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    Py_END_ALLOW_THREADS

    if (pid < 0) {
        errno = saved_errno;
        PyErr_SetFromErrno(PyExc_OSError);
    }
    else if (failed.step != 0) {
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "isO", failed.err,
                                              STEPS[failed.step], exe_obj);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
    }
    else
        result = PyLong_FromLong((long)pid);
done:
    free_strings(argv, nargv);
    free_strings(envp, nenv);
    Py_XDECREF(limits);
    Py_XDECREF(cwd_bytes);
    Py_DECREF(exe_obj);
    return result;
}

static PyMethodDef methods[] = {
    {"spawn", spawn, METH_VARARGS,
     "spawn(exe, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, rlimits, cgroup_procs_fd, "
     "deathsig) -> pid\n\nStart exe in a new session with the limits, cgroup and parent-death "
     "signal applied before the exec; OSError(errno, step, exe) if any step fails."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_spawn", "Start one checker with no helper exec (vfork).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__spawn(void)
{
    return PyModule_Create(&module);
}
