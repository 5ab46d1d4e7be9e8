"""The parse pool: worker processes on a forkserver, replaced when one dies.

A poll of ``POOL_MIN_FEEDS`` feeds or more parses and matches in worker processes
(parsing is CPU-bound); a smaller one on a thread, where starting workers would cost
more than it saves. When a worker dies (killed, crashed in a C library, or a result
that cannot be sent back), ``concurrent.futures`` marks the whole pool broken and
fails every call in it with ``BrokenProcessPool``: the pool is then replaced, and
each feed whose call failed that way is analysed once more in this process, so a
feed's error is its own and the other feeds of the poll go on in the new pool.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.context import ForkServerContext
from types import ModuleType

from monitor.ingest import analyse
from monitor.ingest.analyse import AnalysedFeed, Matcher
from monitor.logs import log_event

log = logging.getLogger("monitor.ingest.pool")

POOL_MIN_FEEDS = 32  # below this, parsing on a thread beats starting worker processes


class ThreadAnalyser:
    """Analyses feeds on a thread of this process (a small poll)."""

    def __init__(self, matcher: Matcher | None) -> None:
        self.matcher = matcher

    async def analyse(self, job: functools.partial[AnalysedFeed]) -> AnalysedFeed:
        return await asyncio.to_thread(job, self.matcher)

    def shutdown(self) -> None:
        pass


class ParsePool:
    """Analyses feeds in worker processes; a broken pool is replaced (``replaced`` counts).

    The workers are started on a thread of their own as soon as the pool is made:
    starting one waits for the forkserver (its imports) and sends the worker the
    matcher, which on the event loop's thread held up every fetch (profiled on the poll
    benchmark's first cycle, on a loaded machine: the loop stood 14 s in that write).
    """

    def __init__(self, workers: int, matcher: Matcher | None) -> None:
        self.workers = workers
        self.matcher = matcher
        self.replaced = 0
        self._started: Future[None] = Future()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=forkserver(),
            initializer=analyse.init_worker,
            initargs=(self.matcher,),
        )
        self._started = Future()
        threading.Thread(
            target=_start_workers, args=(pool, self.workers, self._started), daemon=True
        ).start()
        return pool

    async def analyse(self, job: functools.partial[AnalysedFeed]) -> AnalysedFeed:
        """``job`` in a worker; if the pool broke meanwhile, once more in this process."""
        pool = self._pool
        try:
            if not self._started.done():  # shielded: a cancelled feed must not cancel the start
                await asyncio.shield(asyncio.wrap_future(self._started))
            return await asyncio.get_running_loop().run_in_executor(pool, job)
        except BrokenProcessPool as exc:
            if pool is self._pool:  # the first call to see it replaces it; the others retry
                self._pool = self._start()
                self.replaced += 1
                pool.shutdown(wait=False, cancel_futures=True)
                log_event(log, "parse_pool_replaced", logging.WARNING, error=str(exc))
            # The feed that broke the pool is among those retried here: its own error (a
            # ParseError, or anything else) is raised here and recorded on it alone.
            return await asyncio.to_thread(job, self.matcher)

    def shutdown(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _start_workers(pool: ProcessPoolExecutor, workers: int, started: Future[None]) -> None:
    """Start the pool's workers (a call each that returns at once); ``started`` says when."""
    try:
        for call in [pool.submit(int) for _ in range(workers)]:
            call.result()
    except BaseException as exc:  # a pool broken or shut down already: told to the first feed
        started.set_exception(exc)
    else:
        started.set_result(None)


def choose(feeds: int, matcher: Matcher | None, workers: int | None) -> ParsePool | ThreadAnalyser:
    """``workers`` processes (0: a thread); by default a pool for a batch of
    ``POOL_MIN_FEEDS`` or more on a machine of 2 cores or more.

    One worker fewer than cores: this process keeps a core busy fetching and storing
    (measured on 2 cores: one worker as fast as two, 40 MB less; again after batch
    storing: two workers 30 % slower, the main process starved).
    """
    if workers is None:
        cores = os.cpu_count() or 1
        workers = min(4, cores - 1) if feeds >= POOL_MIN_FEEDS else 0
    return ParsePool(workers, matcher) if workers > 0 else ThreadAnalyser(matcher)


def forkserver() -> ForkServerContext:
    """The forkserver context, with the parse worker's modules imported in the server.

    Workers are forked from the server with those modules already loaded, so a poll's
    pool starts in milliseconds instead of re-importing lxml, feedparser and the
    matcher's modules each poll (measured: 1.4 s to a first result). Re-measured with
    ``benchmarks/poll.py`` (400 feeds, 3 alternating pairs, load 3 to 6): without the
    preload the second cycle took 1.53 s instead of 1.10 s (the first cycle's difference
    was within the noise).
    """
    context = get_context("forkserver")
    context.set_forkserver_preload(preloaded_modules(sys.modules.get("__main__")))
    return context


def preloaded_modules(main: ModuleType | None) -> list[str]:
    """What the forkserver imports once, for every worker it forks.

    A worker runs the main module's imports again when the program was started as a
    script (multiprocessing's "safe importing of the main module"): the
    ``news-monitor`` console script is one, and its ``from monitor.cli import main``
    imports the whole application (measured: 1.1 to 1.6 s before each poll's worker
    could parse a first feed). Preloaded in the forkserver, that happens once per
    process. Started with ``python -m`` the main module is not run again, and nothing
    more is preloaded (the forkserver stays small).
    """
    modules = ["monitor.ingest.analyse", "monitor.matching.matcher"]
    if getattr(main, "__spec__", None) is None and getattr(main, "__file__", None):
        modules.append("monitor.cli")
    return modules
