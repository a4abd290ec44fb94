"""``EngineClient``: starts the engine process, sends it commands, reads its events.

Plain Python and torch-free (a test checks ``sys.modules``): the UI wraps it in its Qt
bridge, the ``batch`` command uses it as it is. It notices a dead engine — exited, killed,
or silent for ``heartbeat_timeout_s`` — and reports it once as an ``EngineDied`` event;
``restart()`` starts a new engine, which resumes the jobs the old one was running.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.main import serve

POLL_S = 0.1


class EngineGone(VoxtuneError):
    """A command was sent to an engine that is not running."""


class EngineClient:
    def __init__(
        self,
        config: EngineConfig,
        *,
        heartbeat_timeout_s: float = 5.0,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.config = config
        self.heartbeat_timeout_s = heartbeat_timeout_s
        # Spawning an interpreter on a loaded machine can take a while before the first beat.
        self.startup_timeout_s = startup_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._commands: Queue | None = None
        self._inbox: queue.Queue[tuple[int, p.Event]] = queue.Queue()
        self._generation = 0  # one per engine process; events of older ones are dropped
        self._seq = 0
        self._last_heard = 0.0
        self._heard_any = False
        self._dead_reported = True
        self._running: set[int] = set()

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self.alive:
            return
        self._generation += 1
        commands: Queue = self._context.Queue()
        events: Queue = self._context.Queue()
        process = self._context.Process(
            target=serve, args=(commands, events, self.config), name="voxtune-engine"
        )
        process.start()
        self._process, self._commands = process, commands
        self._last_heard, self._heard_any = time.monotonic(), False
        self._dead_reported = False
        self._running.clear()
        threading.Thread(
            target=self._pump, args=(events, self._generation), name="voxtune-events", daemon=True
        ).start()

    def restart(self) -> None:
        self._kill()
        self.start()

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """Shut the engine down in order (a running job is released); its exit code."""
        process = self._process
        if process is None:
            return None
        try:
            if process.is_alive():
                self.send(p.Shutdown())
                process.join(timeout_s)
        finally:
            exitcode = self._kill()  # also when the wait was interrupted (a second Ctrl-C)
        return exitcode

    def _kill(self) -> int | None:
        process, self._process = self._process, None
        self._generation += 1  # the pump of the old process stops delivering
        self._dead_reported = True
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(5.0)
        exitcode = process.exitcode
        process.close()
        return exitcode

    def __enter__(self) -> EngineClient:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running_jobs(self) -> tuple[int, ...]:
        """Jobs the engine said it started and has not finished (as far as events tell)."""
        return tuple(sorted(self._running))

    # -- talking ------------------------------------------------------------------------

    def send(self, command: p.Command) -> int:
        """Queue a command; returns its ``seq`` (events answering it carry it as reply_to)."""
        if self._commands is None or not self.alive:
            raise EngineGone("the engine is not running (restart it)")
        self._seq += 1
        self._commands.put(replace(command, seq=self._seq))
        return self._seq

    def next_event(self, timeout: float | None = None) -> p.Event | None:
        """The next event, None after ``timeout`` seconds of nothing; heartbeats are absorbed.

        A dead engine gives one ``EngineDied``, then None until ``restart()``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            try:
                generation, event = self._inbox.get(timeout=max(wait, 0.0))
            except queue.Empty:
                died = self._check_death()
                if died is not None:
                    return died
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            if generation != self._generation:
                continue
            self._last_heard, self._heard_any = time.monotonic(), True
            self._track(event)
            if not isinstance(event, p.Heartbeat):
                return event

    def events(self, timeout: float | None = None) -> Iterator[p.Event]:
        """Events until ``timeout`` seconds pass without one (None: forever)."""
        while (event := self.next_event(timeout)) is not None:
            yield event

    def wait_for(
        self,
        wanted: Callable[[p.Event], bool],
        timeout: float,
        *,
        on_event: Callable[[p.Event], None] | None = None,
    ) -> p.Event:
        """The first event ``wanted`` accepts (or EngineDied); TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.next_event(left)
            if event is None:
                break
            if on_event is not None:
                on_event(event)
            if wanted(event) or isinstance(event, p.EngineDied):
                return event
        raise TimeoutError(f"no such event from the engine within {timeout:.0f} s")

    def request(self, command: p.Command, timeout: float = 60.0) -> p.Event:
        """Send ``command`` and wait for the event that answers it (``reply_to``)."""
        seq = self.send(command)
        return self.wait_for(lambda e: getattr(e, "reply_to", None) == seq, timeout)

    # -- inside -------------------------------------------------------------------------

    def _pump(self, events: Queue, generation: int) -> None:
        """Move events to the inbox, tagged with the engine they came from.

        Its own thread: a reader blocked on a message a killed engine left half-written
        blocks here, not the caller, who still sees the death and restarts.
        """
        while generation == self._generation:
            try:
                event = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            except (EOFError, OSError, ValueError):
                return
            self._inbox.put((generation, event))

    def _track(self, event: p.Event) -> None:
        if isinstance(event, p.JobStarted):
            self._running.add(event.job_id)
        elif isinstance(event, p.JobDone | p.JobFailed | p.JobCancelled):
            self._running.discard(event.job_id)

    def _check_death(self) -> p.EngineDied | None:
        if self._dead_reported or self._process is None:
            return None
        exitcode = self._process.exitcode
        silent_for = time.monotonic() - self._last_heard
        limit = self.heartbeat_timeout_s if self._heard_any else self.startup_timeout_s
        if exitcode is None and silent_for < limit:
            return None
        if exitcode is None:
            reason = f"the engine stopped answering (no heartbeat for {silent_for:.0f} s)"
            self._process.kill()
            self._process.join(5.0)  # reap it: no zombie left holding its jobs' pid
        elif exitcode < 0:
            reason = f"the engine was killed (signal {-exitcode})"
        else:
            reason = f"the engine exited (code {exitcode})"
        self._dead_reported = True
        died = p.EngineDied(reason=reason, exitcode=exitcode, job_ids=self.running_jobs)
        self._running.clear()
        return died
