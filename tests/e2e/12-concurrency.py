#!/usr/bin/env python3
"""Many requests in flight at once on one tunnel, none lost or mixed up.

500 requests from 50 client threads, bodies from 0 B to 5 MiB (mostly small, a
few big). Every request carries a unique id in a header and in its body; the
target answers with that id and a digest of what it received, and each sender
checks that the answer is its own.
"""

import os
import random
import threading
import uuid

from harness import HttpConn, Reply, check, check_eq, run, sha256

THREADS = 50
REQUESTS = 500
MIB = 1024 * 1024


def body_sizes(rng):
    """Mostly small, some medium, a few big; includes 0 B and exactly 5 MiB."""
    sizes = [0, 5 * MIB, 1, 64 * 1024, 64 * 1024 + 1]
    while len(sizes) < REQUESTS:
        r = rng.random()
        if r < 0.80:
            sizes.append(rng.randint(0, 4096))
        elif r < 0.96:
            sizes.append(rng.randint(4097, 512 * 1024))
        elif r < 0.99:
            sizes.append(rng.randint(512 * 1024, 2 * MIB))
        else:
            sizes.append(rng.randint(2 * MIB, 5 * MIB))
    rng.shuffle(sizes)
    return sizes


def make_body(rid, size, rng):
    """Random bytes that start with the request id when there is room for it."""
    tag = rid.encode()
    data = rng.randbytes(size) if hasattr(rng, "randbytes") else os.urandom(size)
    return (tag + data[len(tag):])[:size] if size >= len(tag) else data


def echo_digest(req):
    rid = req.header("X-Req-Id") or ""
    digest = sha256(req.body)
    return Reply(200, "OK", [("X-Req-Id", rid), ("X-Body-Sha256", digest),
                             ("X-Body-Len", str(len(req.body))), ("X-Path", req.target)],
                 ("%s %s %d" % (rid, digest, len(req.body))).encode())


def case_500_requests_50_threads(env):
    seed = int(os.environ.get("HW_SEED") or random.randrange(1 << 30))
    print("      seed %d (HW_SEED=%d reproduces)" % (seed, seed))
    rng = random.Random(seed)
    relay, target, agent = env.stack(handler=echo_digest)
    sizes = body_sizes(rng)
    work = []
    for i, size in enumerate(sizes):
        rid = "req-%03d-%s" % (i, uuid.uuid4().hex)
        work.append((rid, make_body(rid, size, rng)))
    per_thread = [work[t::THREADS] for t in range(THREADS)]
    failures = []
    done = []
    lock = threading.Lock()

    def client(t, items):
        # Even threads keep one connection alive; odd ones open one per request.
        conn = None
        for rid, body in items:
            try:
                if conn is None:
                    conn = HttpConn(relay.port)
                resp = conn.request("POST", "/t/alice/c/" + rid,
                                    [("Host", "hooks.example.test"), ("X-Req-Id", rid),
                                     ("Content-Type", "application/octet-stream")], body)
                got = (resp.status, resp.header("X-Req-Id"), resp.header("X-Body-Sha256"),
                       resp.header("X-Body-Len"), resp.header("X-Path"), resp.body)
                want = (200, rid, sha256(body), str(len(body)), "/c/" + rid,
                        ("%s %s %d" % (rid, sha256(body), len(body))).encode())
                with lock:
                    if got != want:
                        failures.append("%s (%d bytes): got %r" % (
                            rid, len(body), (got[:5], got[5][:120], resp.header("Hookwire-Error"))))
                    done.append(rid)
            except Exception as e:
                with lock:
                    failures.append("%s (%d bytes): %r" % (rid, len(body), e))
                if conn:
                    conn.close()
                conn = None
            if t % 2 and conn is not None:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(t, items), daemon=True)
               for t, items in enumerate(per_thread)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
        check(not th.is_alive(), "client threads finish within 300s")
    check(not failures, "every answer matches its own request",
          "%d of %d failed, e.g.:\n        %s" % (len(failures), REQUESTS,
                                                 "\n        ".join(failures[:10])))
    check_eq(len(done), REQUESTS, "answers received")

    # The target saw each request exactly once, with its exact body.
    seen = {}
    for req in target.requests:
        rid = req.header("X-Req-Id")
        seen.setdefault(rid, []).append(req)
    by_id = dict(work)
    check_eq(sorted(seen), sorted(by_id), "the target got every request id")
    dups = [rid for rid, reqs in seen.items() if len(reqs) != 1]
    check(not dups, "no request reached the target twice", dups[:10])
    for rid, (req,) in seen.items():
        check_eq(sha256(req.body), sha256(by_id[rid]), "body of %s at the target" % rid)
        check_eq(req.target, "/c/" + rid, "path of %s at the target" % rid)
    ids = {req.header("Hookwire-Event-Id") for req in target.requests}
    check_eq(len(ids), REQUESTS, "distinct event ids")
    check_eq(relay.metric("hookwire_relay_requests_total"), float(REQUESTS),
             "relay's requests_total")
    errors = {k[1]: v for k, v in relay.metrics().items()
              if k[0] == "hookwire_relay_errors_total" and v}
    check_eq(errors, {}, "no relay errors")


if __name__ == "__main__":
    run([case_500_requests_50_threads])
