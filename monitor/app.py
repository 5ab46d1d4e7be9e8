"""The running application's parts, built once by the CLI and handed down (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.store.db import make_engine, session_factory, upgrade
from monitor.watchlists import WatchlistRegistry


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    watchlists: WatchlistRegistry = field(repr=False)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> App:
        """Connect to the store (applying migrations unless told not to) and load watchlists."""
        settings.ensure_dirs()
        engine = make_engine(settings.database_url)
        if migrate:
            upgrade(engine)
        registry = WatchlistRegistry(settings.watchlists_dir)
        registry.reload()
        return cls(settings, engine, session_factory(engine), registry)

    def close(self) -> None:
        self.engine.dispose()
