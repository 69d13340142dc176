#!/usr/bin/env python3
"""The relay's /metrics: channel names are webhook URLs, so /metrics names no channel
unless --metrics-channels is given; requests are counted by outcome, the queue's
counters are there, the agents connected, and the answer latency histogram (complete
request to the app's answer head) counts each answered webhook in the right bucket."""

import time

from harness import Reply, check, check_eq, get, parse_metrics, run, token_add, wait_until

HOST = ("Host", "hooks.example.test")


def metrics_text(relay):
    r = get(relay.tunnel_port, "/metrics")
    check_eq(r.status, 200, "GET /metrics")
    return r.body.decode()


def slow_app(req):
    if req.target.startswith("/slow"):
        time.sleep(0.6)  # the app's own latency, which the histogram must see
    return Reply(200, body=b"ok")


def case_no_channel_names_by_default(env):
    store = env.path("relay.db")
    token = token_add(env, store, "alice")
    token_add(env, store, "secret-bob")
    relay = env.relay(store=store, metrics_channels=False, args=["--offline", "reject"])
    target = env.target(slow_app)
    agent = env.agent(relay, token, "alice", target.port, wait=False)
    wait_until(lambda: agent.forwarding_lines() and
               relay.metric("hookwire_relay_agents_connected") == 1, 10,
               "the agent is connected (agents_connected gauge)")
    for path in ("/t/alice/a", "/t/alice/b", "/t/alice/slow"):
        check_eq(relay.webhook("POST", path, [HOST], b"{}").status, 200, "webhook " + path)
    check_eq(relay.webhook("POST", "/t/nobody/x", [HOST], b"{}").status, 404, "unknown channel")
    check_eq(relay.webhook("POST", "/t/secret-bob/x", [HOST], b"{}").status, 503,
             "channel without an agent")

    text = metrics_text(relay)
    for name in ("alice", "secret-bob", "nobody"):
        check(name not in text, "/metrics does not name channel %s" % name, text)
    check("channel=" not in text, "/metrics has no channel label", text)
    m = parse_metrics(text)

    def v(name, **labels):
        return m.get((name, tuple(sorted(labels.items()))))
    check_eq(v("hookwire_relay_agents_connected"), 1.0, "connected agents")
    check_eq(v("hookwire_relay_outcomes_total", outcome="answered"), 3.0, "answered webhooks")
    check_eq(v("hookwire_relay_outcomes_total", outcome="offline"), 1.0, "offline webhooks")
    check_eq(v("hookwire_relay_outcomes_total", outcome="error"), 1.0, "error answers")
    check_eq(v("hookwire_relay_outcomes_total", outcome="queued"), 0.0, "queued (none)")
    for name in ("hookwire_relay_queued_total", "hookwire_relay_drained_total",
                 "hookwire_relay_queue_depth"):
        check(v(name) is not None, "%s is reported" % name, text)
    check_eq(v("hookwire_relay_answer_seconds_count"), 3.0, "three answers in the histogram")
    check_eq(v("hookwire_relay_answer_seconds_bucket", le="+Inf"), 3.0, "+Inf bucket")
    check(v("hookwire_relay_answer_seconds_sum") >= 0.6, "the sum includes the slow answer",
          v("hookwire_relay_answer_seconds_sum"))
    # 600 ms against 500 ms: a margin no scheduling delay of the fast answers reaches.
    check_eq(v("hookwire_relay_answer_seconds_bucket", le="0.5"), 2.0,
             "the slow answer (600 ms) is above the 500 ms bucket, the fast ones in it")
    check_eq(v("hookwire_relay_answer_seconds_bucket", le="1"), 3.0, "and within 1 s")
    les = sorted(((float(dict(k[1])["le"]) if dict(k[1])["le"] != "+Inf" else float("inf")), c)
                 for k, c in m.items() if k[0] == "hookwire_relay_answer_seconds_bucket")
    check(all(a[1] <= b[1] for a, b in zip(les, les[1:])), "buckets are cumulative", les)


def case_channel_names_on_request(env):
    relay, target, agent = env.stack("alice", relay_args=[])
    text = metrics_text(relay)
    m = parse_metrics(text)
    check_eq(m.get(("hookwire_relay_channel_connected", (("channel", "alice"),))), 1.0,
             "with --metrics-channels the channel is listed")
    check(("hookwire_relay_channel_streams", (("channel", "alice"),)) in m,
          "and its streams gauge", text)


if __name__ == "__main__":
    run([case_no_channel_names_by_default, case_channel_names_on_request])
