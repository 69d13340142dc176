/*
 * A name server for one name, LD_PRELOADed into a program by the e2e tests.
 * getaddrinfo() for $HW_FAKE_NAME answers the addresses in numbers listed in
 * $HW_FAKE_ANSWER (space-separated, in that order; 127.0.0.1 if unset), and
 * appends a byte to the file $HW_FAKE_LOG, if set, for each lookup. With
 * $HW_FAKE_GATE set it first plays a name server that does not answer: it
 * appends a byte to $HW_FAKE_GATE.entered (one per lookup), then waits until
 * the file $HW_FAKE_GATE exists. Every other name goes to the real
 * getaddrinfo().
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static void count(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);

    if (fd < 0)
        return;
    if (write(fd, "x", 1) != 1)
        abort();
    close(fd);
}

static void hold(const char *gate)
{
    const struct timespec step = { 0, 10 * 1000 * 1000 };
    char entered[4096];

    snprintf(entered, sizeof(entered), "%s.entered", gate);
    count(entered);
    while (access(gate, F_OK) != 0)
        nanosleep(&step, NULL);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    const char *name = getenv("HW_FAKE_NAME");
    const char *answer = getenv("HW_FAKE_ANSWER");
    const char *gate = getenv("HW_FAKE_GATE");
    struct addrinfo *head = NULL, **tail = &head;
    char list[1024], *save = NULL;

    if (!node || !name || strcmp(node, name) != 0)
        return real(node, service, hints, res);
    if (getenv("HW_FAKE_LOG"))
        count(getenv("HW_FAKE_LOG"));
    if (gate)
        hold(gate);
    snprintf(list, sizeof(list), "%s", answer ? answer : "127.0.0.1");
    for (char *a = strtok_r(list, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
        int rc = real(a, service, hints, tail);

        if (rc) {
            if (head)
                freeaddrinfo(head);
            return rc;
        }
        while (*tail)
            tail = &(*tail)->ai_next;
    }
    *res = head;
    return head ? 0 : EAI_NONAME;
}
