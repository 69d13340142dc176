"""What the Python benchmarks share: where the binaries are, free ports, and polling with
a deadline. Imported by drain.py and inspector.py (run from any folder: Python puts
bench/ first on the path)."""

import os
import socket
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("HW_BIN") or os.path.join(ROOT, "build", "bin")


def port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, secs=10):
    """Calls fn every 50 ms until it returns true (OSError counts as not yet); exits the
    benchmark after secs seconds."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            if fn():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("timed out")
