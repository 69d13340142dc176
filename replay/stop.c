/*
 * Ctrl-C for bulk work (stop.h): SIGINT and SIGTERM are blocked and polled
 * with sigtimedwait() between pages, so no store call ever sees EINTR and
 * every page either committed whole or not at all. Main thread.
 */
#include "stop.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

static sigset_t held;
static int requested;

int replay_stop_hold(void)
{
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    return sigprocmask(SIG_BLOCK, &held, NULL) < 0 ? -errno : 0;
}

int replay_stop_requested(void)
{
    const struct timespec zero = { 0, 0 };

    /* Once asked, the answer stays yes: the signal was taken from the pending set. */
    if (!requested && sigtimedwait(&held, NULL, &zero) > 0)
        requested = 1;
    return requested;
}
