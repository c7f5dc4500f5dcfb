"""Ctrl-C and SIGTERM for every command: stop within 2 s, keep what is committed, say what was done.

One mechanism, installed by the CLI's boundary (`bot.cli.main`) around every command but `serve`
(the bot closes its Discord session on those signals itself):

- The first SIGINT or SIGTERM raises KeyboardInterrupt in the main thread, wherever it is working or
  waiting (a network read, a sleep between requests, a loop over records), so the command unwinds
  through its `finally`s: an unfinished store change is rolled back, everything committed stays.
- A watchdog thread is woken by the same signal even while the main thread is inside C code that
  does not look at signals (a long SQLite statement, an ONNX batch). It stops the worker processes
  at once (terminated, never joined to the end of their work) and, when the command has not
  returned within GRACE seconds, says what was done and ends the process. SQLite's WAL keeps every
  committed change; an uncommitted one is simply not there when the store is next opened.
- A command says what it has done so far with `progress(note)`; the boundary prints the note once
  ("paperbot: stopped (Ctrl-C): …; run the same command to continue") and exits 128 + the signal
  (130 for Ctrl-C, 143 for SIGTERM).
- Every later signal is ignored: a second Ctrl-C never prints a traceback.
- Forked workers ignore SIGINT (a terminal sends Ctrl-C to the whole process group) and leave the
  watchdog's pipe alone; their parent ends them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

GRACE = 1.5  # seconds the command has to unwind before the watchdog ends the process (the promise: 2 s)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
GENERIC_NOTE = "what was saved before the signal is kept; run the same command to continue"


class _State:
    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False  # KeyboardInterrupt raised in the main thread (once)
        self.note: Callable[[], str] | None = None
        self.reported = False
        self.lock = threading.Lock()
        self.installed = False
        self.previous: dict[int, object] = {}
        self.previous_fd = -1
        self.pipe: tuple[int, int] | None = None


_state = _State()
_fork_hook_registered = False


def quiet_start() -> None:
    """While the program starts (imports), a signal ends it at once, quietly: nothing is done yet.

    Only when running as the `paperbot` program (or `python -m bot.cli`), not in a process that
    imports the CLI (tests); `handling` takes over for the command itself.
    """
    if os.path.basename(sys.argv[0]) not in ("paperbot", "__main__.py", "-m"):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        signal.signal(signum, _exit_at_once)


def _exit_at_once(signum: int, frame) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"paperbot: stopped ({NAMES.get(signum, 'a signal')}) while starting: nothing was done\n".encode())
    os._exit(128 + signum)


def requested() -> bool:
    """Whether a SIGINT or SIGTERM has arrived since the command started."""
    return _state.signum is not None


def exit_code() -> int:
    return 128 + (_state.signum or signal.SIGINT)


@contextlib.contextmanager
def progress(note: Callable[[], str]) -> Iterator[None]:
    """While the block runs, `note()` says what the command has done so far, should a signal stop it."""
    previous, _state.note = _state.note, note
    try:
        yield
    finally:
        if not requested():  # keep the note for the report once a signal has come
            _state.note = previous


@contextlib.contextmanager
def handling(enabled: bool = True) -> Iterator[None]:
    """Install the handlers for one command; restore what was there before (tests call `main` in-process)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not enabled:  # the command handles signals itself (serve): Python's defaults, not quiet_start's exit
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        yield
        return
    _install()
    try:
        yield
    finally:
        _uninstall()


def report() -> int:
    """At the boundary, after a signal: stop the workers, print what was done (once), give the exit status."""
    _stop_workers()
    _print_report()
    return exit_code()


def _install() -> None:
    global _fork_hook_registered
    _state.signum, _state.note, _state.reported, _state.raised = None, None, False, False
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        _state.previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # not the main thread after all
        os.close(read_fd)
        os.close(write_fd)
        return
    _state.pipe = (read_fd, write_fd)
    for signum in SIGNALS:
        _state.previous[signum] = signal.signal(signum, _on_signal)
    _state.installed = True
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_in_forked_child)
        _fork_hook_registered = True
    threading.Thread(target=_watchdog, args=(read_fd,), name="paperbot-interrupt", daemon=True).start()


def _uninstall() -> None:
    if not _state.installed:
        return
    _state.installed = False
    if requested():
        # the process is on its way out: later signals stay ignored, and the watchdog still ends it
        # should it hang at exit (an executor joined by the interpreter, a stuck thread)
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        return
    signal.set_wakeup_fd(_state.previous_fd)
    for signum, handler in _state.previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
    if _state.pipe:
        read_fd, write_fd = _state.pipe
        os.close(write_fd)  # the watchdog reads end-of-file and returns
        _state.pipe = None
        with contextlib.suppress(OSError):
            os.close(read_fd)
    _state.note = None


def _on_signal(signum: int, frame) -> None:
    if _state.raised:
        return  # a second Ctrl-C: the first is being handled, and no traceback
    _state.raised = True
    if _state.signum is None:
        _state.signum = signum
    raise KeyboardInterrupt


def _watchdog(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:
            return
        if any(byte in SIGNALS for byte in data):
            break
    if _state.signum is None:  # the main thread has not run its handler yet (it is inside C code)
        _state.signum = next(byte for byte in data if byte in SIGNALS)
    _stop_workers()
    time.sleep(GRACE)
    _print_report()  # only if the boundary has not printed it
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(exit_code())


def _stop_workers() -> None:
    """Terminate this process's worker processes (index builds, big ingests): stopped, not joined to the end."""
    with contextlib.suppress(Exception):
        for child in multiprocessing.active_children():
            with contextlib.suppress(Exception):
                child.terminate()


def _print_report() -> None:
    with _state.lock:
        if _state.reported:
            return
        _state.reported = True
    note = GENERIC_NOTE
    if _state.note is not None:
        try:
            note = _state.note() or GENERIC_NOTE
        except Exception:  # noqa: BLE001 - a note that fails must not hide the stop itself
            note = GENERIC_NOTE
    name = NAMES.get(_state.signum or signal.SIGINT, "a signal")
    with contextlib.suppress(Exception):
        print(f"paperbot: stopped ({name}): {note}", file=sys.stderr, flush=True)


def _in_forked_child() -> None:
    """A forked worker ignores Ctrl-C (its parent stops it) and does not write to the parent's watchdog pipe."""
    if not _state.installed:
        return
    with contextlib.suppress(Exception):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _state.installed = False
    _state.pipe = None
