/* The native spawn threads: long-lived pthreads that never run Python. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "_spawn.h"

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

int
pool_enqueue(job_t *j)
{
    int failed = 0;
    atomic_fetch_add(&j->refs, 1); /* the spawn thread's */
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
    if (failed) { /* no thread can ever serve it (nor any job before it): take it back */
        queue_head = queue_tail = NULL;
        atomic_fetch_sub(&j->refs, 1);
    }
    else
        pthread_cond_signal(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
    return failed ? -1 : 0;
}

void
pool_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}
