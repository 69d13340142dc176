"""A real Caddy running one of the examples' Caddyfiles for the e2e tests: the example's
addresses replaced by the case's ports, Caddy's admin endpoint and automatic HTTPS off
(this is loopback), started in the case's directory and waited for."""

import os
import shutil

from harness import SOURCE, Proc, get, wait_until
from hw_checks import check


def caddyfile(env, name, replacements):
    """examples/<name> with each (old, new) of replacements applied, every old being in it;
    written into the case's directory. Returns its path."""
    with open(os.path.join(SOURCE, "examples", name)) as f:
        text = f.read()
    for old, new in replacements:
        check(old in text, "the example names %s" % old)
        text = text.replace(old, new)
    path = env.path("Caddyfile")
    with open(path, "w") as f:
        f.write("{\n\tadmin off\n\tauto_https off\n}\n\n" + text)
    return path


def start(env, conf, ready, what):
    """Runs caddy on conf and waits up to 15 s for ready() (a connection error counts as not
    yet, Caddy exiting fails the case); what names the wait. Returns the Proc."""
    caddy = shutil.which("caddy")
    check(caddy is not None, "caddy is installed (scripts/install-deps installs it)")
    proc = Proc(env, "caddy", [caddy, "run", "--config", conf, "--adapter", "caddyfile"],
                {"HOME": env.dir, "XDG_DATA_HOME": env.dir, "XDG_CONFIG_HOME": env.dir})

    def up():
        proc.check_alive("caddy is running")
        try:
            return ready()
        except (OSError, EOFError):
            return False
    wait_until(up, 15, what)
    return proc


def start_receiver_example(env, port, receiver_port, backend_port, root):
    """examples/Caddyfile.receiver on http://127.0.0.1:port, sending webhooks to
    receiver_port, the rest of /api/ to backend_port and serving the static site in root
    (which holds index.html). Returns the Proc once Caddy serves the site."""
    conf = caddyfile(env, "Caddyfile.receiver", (
        ("www.example.com", "http://127.0.0.1:%d" % port),
        ("127.0.0.1:8090", "127.0.0.1:%d" % receiver_port),
        ("127.0.0.1:3000", "127.0.0.1:%d" % backend_port), ("/srv/www", root)))
    return start(env, conf, lambda: get(port, "/").status == 200, "caddy serves the site")
