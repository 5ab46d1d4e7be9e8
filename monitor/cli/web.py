"""``news-monitor web``: the web app alone, without polling or sending (``monitor.web``)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from monitor.cli._common import UserError, load_settings, open_app, user_errors
from monitor.logs import configure_logging, log_event
from monitor.web import create_web_app
from monitor.web.server import WebServer

logger = logging.getLogger("monitor.web")


@click.command()
def web() -> None:
    """Serve the web app, /healthz and /metrics on MONITOR_HTTP_HOST:MONITOR_HTTP_PORT.

    Nothing is polled or sent (news-monitor run does that and serves the same pages):
    on PostgreSQL some processes can serve the web while others poll. People log in
    with accounts made by news-monitor users add. Ctrl-C or SIGTERM stops it.
    """
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if not settings.http_port:
        raise UserError("MONITOR_HTTP_PORT is 0: set the port the web app should listen on")
    with open_app() as app, user_errors():
        for error in app.watchlists.errors:
            click.echo(f"warning: {error}", err=True)
        server = WebServer(
            create_web_app(app),
            settings.http_host,
            settings.http_port,
            settings.http_forwarded_allow_ips,
        )
        stop = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log_event(logger, "signal_received", signal=signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        server.start()
        log_event(logger, "http_listening", url=server.url)
        try:
            while not stop.wait(1.0) and server.running:
                pass
        finally:
            server.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
