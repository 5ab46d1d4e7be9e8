"""A static feed server on loopback for the demo: serves ``monitor/demo/feeds/`` with validators."""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from monitor.health import QuietHTTPServer

FEEDS_DIR = Path(__file__).parent / "feeds"
CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
}


class StaticFeedServer:
    """Serves every file of a folder at ``/<name>``, with ETag and Last-Modified (304 on match)."""

    def __init__(self, folder: Path = FEEDS_DIR, host: str = "127.0.0.1", port: int = 0) -> None:
        files = {
            "/" + path.name: path
            for path in sorted(folder.iterdir())
            if path.suffix in CONTENT_TYPES
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = files.get(self.path.split("?", 1)[0])
                if path is None:
                    self.send_error(404)
                    return
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                modified = formatdate(path.stat().st_mtime, usegmt=True)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                ctype = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
                self.send_header("Content-Type", ctype or "application/octet-stream")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.paths = sorted(files)
        self.server = QuietHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def start(self) -> StaticFeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
