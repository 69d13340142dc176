/*
 * A store thread's scheduling policy (docs/decisions.md, "The relay's store
 * thread runs only on idle time"). A thread in SCHED_IDLE gives its core to
 * any other thread that wakes, at once; only this process's own privilege
 * (CAP_SYS_NICE, or an RLIMIT_NICE that covers the thread's nice value)
 * lets it leave that policy again, so that is tried first, on a thread of
 * its own.
 */
#include "store_sched.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

struct trial {
    int nice_incr;
    int err;
};

static void *try_idle(void *arg)
{
    struct trial *t = arg;
    struct sched_param none = { 0 };

    errno = 0;
    if (t->nice_incr && nice(t->nice_incr) == -1 && errno) {
        t->err = -errno;
        return NULL;
    }
    if (sched_setscheduler(0, SCHED_IDLE, &none) != 0)
        t->err = -errno;
    else if (sched_setscheduler(0, SCHED_OTHER, &none) != 0)
        t->err = -errno; /* this thread ends here: nothing is left in SCHED_IDLE */
    return NULL;
}

int hw_sched_idle_reversible(int nice_incr, const char **why)
{
    struct trial t = { .nice_incr = nice_incr };
    pthread_t th;

    *why = NULL;
    if (pthread_create(&th, NULL, try_idle, &t) != 0) {
        *why = "cannot start a thread to try it";
        return 0;
    }
    pthread_join(th, NULL);
    if (t.err == -EPERM)
        *why = "leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE that covers the store "
               "thread's nice value (systemd: LimitNICE=)";
    else if (t.err)
        *why = "the scheduler refused SCHED_IDLE";
    return t.err == 0;
}

int hw_sched_set_idle(pid_t tid, int idle)
{
    struct sched_param none = { 0 };

    return sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &none) == 0 ? 0 : -errno;
}
