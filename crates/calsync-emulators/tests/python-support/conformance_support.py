"""What the official-client conformance scripts (google-client/, graph-client/) share: failing
a check, reporting one, letting loopback traffic past proxies, and running the check groups so
that one failing group does not stop the others.

The scripts import it with this folder put first on sys.path.
"""

import os
import sys
import traceback


class CheckFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


def ok(message):
    print(f"ok    {message}", flush=True)


def bypass_proxies_for_loopback():
    # The HTTP stacks of both clients honour no_proxy; the emulator and the webhook listener
    # are local.
    for var in ("no_proxy", "NO_PROXY"):
        current = os.environ.get(var, "")
        os.environ[var] = ",".join(p for p in (current, "127.0.0.1", "localhost") if p)


class Failures:
    """The failed check groups of a run of `total`."""

    def __init__(self, total, unexpected):
        """`unexpected(e)` describes an error the client raised for an HTTP answer (None for any
        other exception, which is reported as a crash)."""
        self.total = total
        self.unexpected = unexpected
        self.failed = []

    def add(self, name, e):
        """Records check group `name` as failed with `e` (printing the trace unless a check
        failed)."""
        if isinstance(e, CheckFailed):
            failure = str(e)
        else:
            failure = self.unexpected(e) or f"crashed: {e!r}"
            traceback.print_exc(file=sys.stdout)
        self.failed.append(f"{name}: {failure}")
        print(f"FAIL  {name}: {failure}", flush=True)

    def report(self):
        """Prints the summary; returns the exit status (0 when every group passed)."""
        if self.failed:
            print(f"{len(self.failed)} of {self.total} check groups failed:", file=sys.stderr)
            for f in self.failed:
                print(f"  - {f}", file=sys.stderr)
            return 1
        print(f"all {self.total} check groups passed", flush=True)
        return 0
