"""Exec a command after asking Linux to SIGKILL it when its parent dies.

Spawned as `python -I -S _deathsig.py PARENT_PID CMD...` by `ops.proc.spawn`: this
is how a SIGKILLed supervisor (or test runner) still leaves no orphan processes.
Running it as a separate tiny program instead of a `preexec_fn` keeps the fork
thread-safe. SIGKILL, not SIGTERM: this only fires when the orderly shutdown
could not run, and then "no orphan" beats "graceful" (Redis normally writes each
command to its AOF before acknowledging it).
Only the standard library may be imported here (runs with -I -S).
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent, argv = int(sys.argv[1]), sys.argv[2:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"cannot execute {argv[0]}: {exc}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
