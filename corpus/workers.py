"""Worker processes that die with their parent: pool initializer for index builds and big ingests."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Pool worker initializer: the kernel kills this worker when its parent dies (even by kill -9).

    Without it, the workers of a killed command (an index build, a big ingest) run on forever,
    holding memory and the store (they wait on a queue whose other end they hold themselves).
    Linux only (prctl); elsewhere a no-op. Pass `os.getpid()` of the process creating the pool.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
