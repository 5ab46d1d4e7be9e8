"""Fetch benchmark: CPU per request through ``Fetcher``, our transport against httpx's own.

    python -m benchmarks.fetch [--requests 2000] [--repeats 5] [--concurrency 20]

A separate process serves ``/feed/N`` over HTTP/1.1 keep-alive on loopback (so the CPU
measured is the client's alone). Each round fetches ``--requests`` feeds with one
``Fetcher``, twenty at a time: once sending the current ETag (every answer is
``304 Not Modified``), once without (every answer is a 20 KB feed). The transports:

- ours: ``monitor.feeds.transport.FeedTransport`` (httpcore's pool on ``AsyncioBackend``,
  which also resolves once and checks the address it connects to);
- httpx: ``httpx.AsyncHTTPTransport`` (httpcore's pool on its anyio backend; no address
  check at connect time).

The rounds alternate between the transports; printed are the median CPU (process time)
per request over ``--repeats`` rounds and the ratio httpx / ours.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks._corpus import serve_feeds
from monitor.feeds.fetch import Fetcher, FetchLimits, Validators
from monitor.feeds.transport import default_ssl_context

FEED_BYTES = 20 * 1024


def feed_body(index: int, version: int) -> bytes:
    head = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
    item = "<item><title>An item</title><description>" + "word " * 40 + "</description></item>"
    body = head + item * (FEED_BYTES // len(item)) + "</channel></rss>"
    return body.encode()


def serve(port_out: Any) -> None:
    serve_feeds(port_out, lambda index: 0, feed_body)


def httpx_transport(limits: FetchLimits) -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(
        verify=default_ssl_context(),
        trust_env=False,
        limits=httpx.Limits(
            max_connections=limits.concurrency, max_keepalive_connections=limits.concurrency
        ),
    )


TransportFactory = Callable[[FetchLimits], httpx.AsyncBaseTransport] | None
TRANSPORTS: dict[str, TransportFactory] = {"ours": None, "httpx": httpx_transport}


class _Fetcher(Fetcher):
    def __init__(self, limits: FetchLimits, factory: TransportFactory) -> None:
        super().__init__(limits)
        self._factory = factory

    def open_transport(self) -> httpx.AsyncBaseTransport:
        if self._factory is None:
            return super().open_transport()
        return self._factory(self.limits)


async def _round(
    base: str, requests: int, limits: FetchLimits, factory: TransportFactory, conditional: bool
) -> float:
    async with _Fetcher(limits, factory) as fetcher:

        async def one(index: int) -> int:
            validators = Validators(etag=f'"{index}-0"') if conditional else None
            result = await fetcher.fetch(f"{base}/feed/{index}", validators)
            return result.status

        started = time.process_time()
        statuses = await asyncio.gather(*(one(index) for index in range(requests)))
        cpu = time.process_time() - started
    expected = 304 if conditional else 200
    if any(status != expected for status in statuses):
        raise SystemExit(f"expected HTTP {expected} for every request, got {set(statuses)}")
    return cpu / requests


def main(transports: dict[str, TransportFactory] = TRANSPORTS) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    context = mp.get_context("spawn")
    port = context.Value("i", 0)
    # The server by its module's name: under ``python -m benchmarks`` this runs as __main__.
    from benchmarks.fetch import serve as target

    server = context.Process(target=target, args=(port,), daemon=True)
    server.start()
    try:
        while not port.value:
            if not server.is_alive():
                raise SystemExit("the feed server did not start")
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port.value}"
        limits = FetchLimits(
            allow_private=True, concurrency=args.concurrency, per_host=args.concurrency
        )
        cases = {"304": True, "20 KB": False}
        samples: dict[tuple[str, str], list[float]] = {
            (case, name): [] for case in cases for name in transports
        }
        for factory in transports.values():  # warm up: imports, caches, the server
            asyncio.run(_round(base, 200, limits, factory, True))
        for _ in range(args.repeats):
            for case, conditional in cases.items():
                for name, factory in transports.items():
                    cpu = asyncio.run(_round(base, args.requests, limits, factory, conditional))
                    samples[case, name].append(cpu)
        print(
            f"{args.requests} requests per round, {args.repeats} rounds, "
            f"concurrency {args.concurrency}; median CPU per request:"
        )
        names = list(transports)
        for case in cases:
            medians = {name: statistics.median(samples[case, name]) for name in names}
            shown = "  ".join(f"{name} {medians[name] * 1e3:.3f} ms" for name in names)
            ratios = "  ".join(
                f"{name}/{names[0]} {medians[name] / medians[names[0]]:.2f}" for name in names[1:]
            )
            print(f"  {case:>6}: {shown}  ({ratios})")
    finally:
        server.kill()
        server.join()


if __name__ == "__main__":
    main()
