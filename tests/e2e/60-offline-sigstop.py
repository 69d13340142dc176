#!/usr/bin/env python3
"""A sleeping laptop: the agent frozen with SIGSTOP keeps its socket open. The relay's
probe (a PING once webhooks wait on a silent tunnel) finds it dead within a few seconds;
the webhook that was in flight is kept and answered 202 (not 504 and lost), and later
webhooks queue. After SIGCONT the agent reconnects and the app receives every webhook in
arrival order, with the id from its 202. On SQLite and on MariaDB.
"""

import json
import signal
import threading
import time

from harness import check, check_eq, run, wait_until
from offline_util import HOST, body_of, queue_one, received, stack, stores


def case_agent_frozen(env):
    for kind, store in stores(env):
        relay, target, agent = stack(env, store, start_agent=True)
        resp = relay.webhook("POST", "/t/alice/warm", [HOST, ("X-Seq", "-1")], b"warm")
        check_eq(resp.status, 200, kind + ": live before the freeze")
        agent.proc.signal(signal.SIGSTOP)
        try:
            out = {}

            def first():
                t0 = time.monotonic()
                out["resp"] = relay.webhook("POST", "/t/alice/hook?n=0",
                                            [HOST, ("X-Seq", "0")], body_of(0))
                out["took"] = time.monotonic() - t0

            th = threading.Thread(target=first, daemon=True)
            th.start()
            th.join(15)
            check(not th.is_alive(), kind + ": the in-flight webhook is answered")
            resp = out["resp"]
            check_eq(resp.status, 202, kind + ": the webhook in flight on the dead tunnel")
            check(out["took"] < 6.0, kind + ": found dead within a few seconds",
                  "%.1fs" % out["took"])
            ids = [json.loads(resp.body)["id"]]
            check_eq(resp.header("Hookwire-Error"), None, kind + ": no error code on a 202")
            ids += [queue_one(relay, i) for i in range(1, 10)]
        finally:
            agent.proc.signal(signal.SIGCONT)

        def all_seen():
            return len({g[0] for g in received(target) if g[0] >= 0}) == 10
        wait_until(all_seen, 40, kind + ": every webhook reaches the app after SIGCONT")
        got = [g for g in received(target) if g[0] >= 0]
        firsts = []
        for seq, evt, _, body in got:
            if seq not in [f[0] for f in firsts]:
                firsts.append((seq, evt, body))
        check_eq([f[0] for f in firsts], list(range(10)), kind + ": first arrivals in order")
        for seq, evt, body in firsts:
            check_eq(evt, ids[seq], kind + ": event %d keeps its id" % seq)
            check(body == body_of(seq), kind + ": event %d byte-exact" % seq)
        agent.stop()
        relay.stop()


if __name__ == "__main__":
    run([case_agent_frozen])
