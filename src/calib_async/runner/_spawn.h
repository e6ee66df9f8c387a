/* The native spawn's shared definitions: one spawn (a job) and the steps that can fail.
 *
 *   _spawn.c       the Python module: arguments, the job's life, the Spawn handle
 *   _spawn_fork.c  the child: vfork or clone3 into the cgroup, then setup and exec (no Python)
 *   _spawn_pool.c  the spawn threads: pthreads that never run Python
 */
#ifndef CALIB_ASYNC_SPAWN_H
#define CALIB_ASYNC_SPAWN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/types.h>

#define MAX_LIMITS 8

/* What failed, as an index into STEPS (_spawn.c); 1-7 are the child's own steps. */
enum { STEP_EXEC = 8, STEP_MKDIR, STEP_PIPE, STEP_WATCH, STEP_THREAD };

struct failure {
    int step;
    int err;
    int ran; /* the clone3 child got to run its own code (set first thing) */
};

typedef struct job {
    struct _object *exe_obj; /* PyObject * (bytes); touched only with the GIL */
    char *exe, *cwd, *workdir;
    char **argv, **envp;
    ssize_t nargv, nenv; /* Py_ssize_t */
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

/* _spawn_fork.c: vfork (or clone3 into j->cgroup_dir) + exec of the job's checker, with fd_out
 * and fd_err as its stdout and stderr; the pid, or -1 with j->step and j->err set. */
pid_t job_fork(job_t *j, int fd_out, int fd_err);

/* _spawn_pool.c: queue a job for a spawn thread (it takes one reference); -1 if no thread can
 * be started at all. The thread runs the whole spawn and writes j->efd when done. */
int pool_enqueue(job_t *j);
void pool_init(void);

/* _spawn.c: drop one reference; the last frees the job (any thread, no GIL needed). */
void job_release(job_t *j);

#endif
