"""Checks and polling for the end-to-end tests: every failed expectation raises
CheckFailed with a message that says which check failed and how."""

import hashlib
import time


class CheckFailed(AssertionError):
    """A test expectation did not hold; the message says which one."""


def check(cond, what, detail=None):
    """Fails the current case with `what` (and `detail`) unless cond holds."""
    if not cond:
        raise CheckFailed(what if detail is None else "%s: %s" % (what, detail))


def _short(v, limit=300):
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + "... (%d chars)" % len(r)


def check_eq(actual, expected, what):
    """Fails unless actual == expected, showing where they differ."""
    if actual == expected:
        return
    if isinstance(actual, (bytes, bytearray)) and isinstance(expected, (bytes, bytearray)):
        n = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b),
                 min(len(actual), len(expected)))
        raise CheckFailed(
            "%s: %d bytes (sha256 %s) instead of %d bytes (sha256 %s), first difference at %d: "
            "got %r, expected %r" % (what, len(actual), sha256(actual), len(expected),
                                     sha256(expected), n, bytes(actual[n:n + 40]),
                                     bytes(expected[n:n + 40])))
    if isinstance(actual, list) and isinstance(expected, list):
        n = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b),
                 min(len(actual), len(expected)))
        raise CheckFailed(
            "%s: lists differ at index %d (%d vs %d items)\n  got:      %s\n  expected: %s"
            "\n  got (all):      %s\n  expected (all): %s" % (
                what, n, len(actual), len(expected),
                _short(actual[n] if n < len(actual) else "<missing>"),
                _short(expected[n] if n < len(expected) else "<missing>"),
                _short(actual, 4000), _short(expected, 4000)))
    raise CheckFailed("%s: got %s, expected %s" % (what, _short(actual), _short(expected)))


def wait_until(fn, timeout, what, interval=0.02):
    """Polls fn() until it returns a true value, which is returned; fails after timeout s."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last_exc = None
        except CheckFailed:
            raise
        except Exception as e:  # a poll that cannot connect yet is not a failure
            last_exc = e
        if time.monotonic() >= deadline:
            extra = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise CheckFailed("timed out after %.1fs waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


def holds_for(fn, duration, what, interval=0.05):
    """Checks that fn() stays true for `duration` seconds (a scenario's length, not a sync)."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        check(fn(), what)
        time.sleep(interval)


def sha256(b):
    return hashlib.sha256(b).hexdigest()
