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
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "_spawn.h"

static const char *const STEPS[] = {
    "", "cannot start a new session", "cannot set the parent-death signal",
    "the driver exited before the checker started", "cannot set a resource limit",
    "cannot join the run's cgroup", "cannot redirect stdin/stdout/stderr",
    "cannot change to the working directory", "cannot execute",
    "cannot create the run's working directory", "cannot create the output pipes",
    "cannot watch the checker", "cannot start a spawn thread",
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

void
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
    int failed = pool_enqueue(j) != 0;
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
    pool_init();
    return PyModule_Create(&module);
}
