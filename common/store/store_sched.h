#ifndef HW_STORE_SCHED_H
#define HW_STORE_SCHED_H

/*
 * How a store thread is scheduled (store_sched.c): SCHED_IDLE while it
 * only writes history nobody waits for, SCHED_OTHER (at its nice value)
 * again as soon as something is waited for.
 */
#include <sys/types.h>

/*
 * Whether a thread of this process, at its creator's nice value plus
 * nice_incr, may leave SCHED_IDLE again: tried on a thread made for the
 * purpose (unprivileged, the kernel allows it only within RLIMIT_NICE).
 * Returns 1 or 0; *why gets a reason for 0.
 */
int hw_sched_idle_reversible(int nice_incr, const char **why);

/* Puts thread tid in SCHED_IDLE (idle) or back in SCHED_OTHER. Returns 0 or -errno. */
int hw_sched_set_idle(pid_t tid, int idle);

#endif
