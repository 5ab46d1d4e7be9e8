"""What the feed benchmarks share: filler vocabulary, the RSS document, the feed server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

FILLER_WORDS = [
    "government",
    "minister",
    "report",
    "city",
    "region",
    "official",
    "market",
    "prices",
    "energy",
    "water",
    "school",
    "hospital",
    "harvest",
    "bridge",
    "railway",
    "weather",
    "storm",
    "river",
    "mountain",
    "festival",
    "museum",
    "theatre",
    "football",
    "league",
    "season",
    "coach",
    "players",
    "company",
    "bank",
    "loan",
    "budget",
    "tax",
    "reform",
    "parliament",
    "vote",
    "union",
    "factory",
    "export",
    "import",
    "trade",
    "agreement",
    "talks",
    "summit",
    "delegation",
    "visit",
    "statement",
    "press",
    "interview",
    "survey",
    "study",
    "university",
    "students",
    "teachers",
    "doctors",
    "nurses",
    "patients",
    "clinic",
    "vaccine",
    "library",
    "airport",
    "highway",
    "traffic",
    "housing",
    "rent",
    "tourism",
    "hotel",
    "restaurant",
    "music",
    "film",
    "award",
]


def rss_document(index: int, items: list[str]) -> bytes:
    """An RSS 2.0 document for feed ``index`` with ``items`` (newest last in the list)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {index}</title><link>https://news{index % 97}.example.org/</link>"
        f"<language>en</language>{''.join(reversed(items))}</channel></rss>"
    ).encode()


def serve_feeds(
    port_out: Any,
    version_of: Callable[[int], int],
    body_of: Callable[[int, int], bytes],
    *,
    host: str | Sequence[str] = "127.0.0.1",
    delay_seconds: Callable[[], float] = lambda: 0.0,
) -> None:
    """Serve feed ``/feed/N`` over HTTP/1.1 keep-alive until killed; its port goes to ``port_out``.

    ``host``: the address to listen on, or several (loopback addresses such as
    127.0.0.2, 127.0.0.3…: each looks like a host of its own to a client), all on the
    one port. The ETag is ``"N-version"``: a request that sends the current one gets
    304, any other the body of that version.
    """
    hosts = [host] if isinstance(host, str) else list(host)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                index = int(lines[0].split(" ")[1].rsplit("/", 1)[-1])
                sent_etag = ""
                for line in lines[1:]:
                    if line.lower().startswith("if-none-match:"):
                        sent_etag = line.split(":", 1)[1].strip()
                delay = delay_seconds()
                if delay:
                    await asyncio.sleep(delay)
                version = version_of(index)
                etag = f'"{index}-{version}"'
                if sent_etag == etag:
                    writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode())
                else:
                    body = body_of(index, version)
                    writer.write(
                        (
                            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8"
                            f"\r\nETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n"
                        ).encode()
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        first = await asyncio.start_server(handle, hosts[0], 0, backlog=4096)
        port = first.sockets[0].getsockname()[1]
        servers = [first]
        for address in hosts[1:]:
            servers.append(await asyncio.start_server(handle, address, port, backlog=4096))
        port_out.value = port
        await asyncio.gather(*(server.serve_forever() for server in servers))

    asyncio.run(main())
