"""Every error of ours survives pickling with its fields: a parse worker's error reaches the poll.

A ``ParseError`` raised in a parse worker crosses to the poll pickled. When it could not be
rebuilt there (its ``__init__`` takes more than it passes to ``Exception.__init__``), the pool
was marked broken and every later feed of the poll failed. These tests find every exception
class the product defines, so a new one is checked without being listed here.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpcore
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cli._common import UserError
from monitor.exceptions import MonitorError
from monitor.feeds.exceptions import FetchError, ParseError
from monitor.selfcheck import product_modules

#: a realistic value for each constructor parameter, by name; a new parameter needs a line here
SAMPLES: dict[str, object] = {
    "kind": "not_a_feed",
    "message": "https://steppe.example.org/news is an HTML page, not a feed",
    "retry_after": 120.0,
    "feed_links": ("https://steppe.example.org/rss", "https://steppe.example.org/atom.xml"),
    "url": "https://steppe.example.org/rss",
    "path": Path("watchlists/central-asia.yaml"),
    "line": 12,
    "key_path": "keywords[3]",
    "host": "feeds.steppe.example.org",
    "address": "127.0.0.1",
    "diff": "--- on disk\n+++ yours\n-  - recruit*\n+  - вербов*\n",
    "page": True,
}
#: the same parameters, as arbitrary values for the property test
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "kind": st.text(min_size=1, max_size=20),
    "message": st.text(max_size=80),
    "retry_after": st.none() | st.floats(min_value=0, max_value=1e9),
    "feed_links": st.lists(st.text(max_size=40), max_size=4).map(tuple),
    "url": st.text(max_size=60),
    "path": st.text(min_size=1, max_size=40).map(Path),
    "line": st.none() | st.integers(min_value=1, max_value=10**6),
    "key_path": st.text(max_size=30),
    "host": st.text(max_size=40),
    "address": st.ip_addresses().map(str),
    "diff": st.text(max_size=80),
    "page": st.booleans(),
}
#: our errors that cannot be MonitorErrors, and why; they pickle the same way
NOT_MONITOR_ERRORS = {
    # click's exceptions for the terminal: a MonitorError would be wrapped again by `user_errors`
    "monitor.cli._common.UserError",
    "monitor.cli._common.Failure",
    # raised inside httpcore's connection code, so httpx maps them as it maps its own; the
    # Fetcher turns them into FetchError (private_address, bad_url)
    "monitor.feeds.transport.PrivateAddressError",
    "monitor.feeds.transport.HostNameError",
}


def product_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a module of the product (imported ones counted once)."""
    found: list[type[BaseException]] = []
    for name in product_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == name
            ):
                found.append(value)
    return sorted(found, key=qualified)


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


EXCEPTIONS = product_exceptions()


def constructor_parameters(cls: type[BaseException]) -> list[inspect.Parameter]:
    """The parameters of the ``__init__`` that ``cls`` runs, ``(*args)`` for Exception's own."""
    init = next(klass.__dict__["__init__"] for klass in cls.__mro__ if "__init__" in klass.__dict__)
    if not inspect.isfunction(init):  # BaseException.__init__, written in C
        return [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]
    return list(inspect.signature(init).parameters.values())[1:]  # without self


def build(cls: type[BaseException], values: dict[str, Any]) -> BaseException:
    """An instance of ``cls`` with a value for every parameter of its constructor."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for parameter in constructor_parameters(cls):
        if parameter.kind is parameter.VAR_POSITIONAL:  # Exception's own (*args)
            positional.append(values["message"])
        elif parameter.kind is parameter.VAR_KEYWORD:
            continue
        elif parameter.name not in values:
            pytest.fail(
                f"{qualified(cls)} takes {parameter.name!r}: add a sample value for it to "
                f"SAMPLES and STRATEGIES in tests/test_exceptions.py"
            )
        elif parameter.kind is parameter.KEYWORD_ONLY:
            keywords[parameter.name] = values[parameter.name]
        else:
            positional.append(values[parameter.name])
    return cls(*positional, **keywords)


def assert_same(restored: BaseException, original: BaseException) -> None:
    assert type(restored) is type(original)
    assert str(restored) == str(original)
    assert restored.args == original.args
    assert restored.__dict__ == original.__dict__
    for name, value in original.__dict__.items():
        assert getattr(restored, name) == value, name


def test_the_product_defines_the_errors_we_know_of() -> None:
    # the discovery must see the errors of every package, or the tests below check nothing
    names = {qualified(cls) for cls in EXCEPTIONS}
    assert {
        "monitor.exceptions.MonitorError",
        "monitor.feeds.exceptions.ParseError",
        "monitor.store.exceptions.NotFoundError",
        "monitor.watchlists.WatchlistError",
        "monitor.matching.gazetteer.UnknownCountry",
        "alerts.exceptions.TransportDownError",
        "monitor.cli._common.Failure",
    } <= names


def test_an_error_the_test_cannot_build_fails_the_test_and_says_what_to_add() -> None:
    class QuotaError(MonitorError):
        def __init__(self, quota: int) -> None:
            super().__init__(f"over the quota of {quota} feeds")

    with pytest.raises(pytest.fail.Exception, match="takes 'quota': add a sample value"):
        build(QuotaError, SAMPLES)


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=qualified)
def test_every_error_is_a_monitor_error(cls: type[BaseException]) -> None:
    if qualified(cls) in NOT_MONITOR_ERRORS:
        assert issubclass(cls, UserError | httpcore.ConnectError)
    else:
        assert issubclass(cls, MonitorError), f"{qualified(cls)} should derive from MonitorError"


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("cls", EXCEPTIONS, ids=qualified)
def test_every_error_round_trips_through_pickle(cls: type[BaseException], protocol: int) -> None:
    original = build(cls, SAMPLES)
    assert_same(pickle.loads(pickle.dumps(original, protocol=protocol)), original)


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=qualified)
def test_the_fields_survive_pickling(cls: type[BaseException]) -> None:
    # every field a constructor takes is kept by the rebuilt error, not only the message
    original = build(cls, SAMPLES)
    restored = pickle.loads(pickle.dumps(original))
    for parameter in constructor_parameters(cls):
        if hasattr(original, parameter.name):
            assert getattr(restored, parameter.name) == getattr(original, parameter.name)


def test_a_watchlist_error_keeps_file_line_and_key_path() -> None:
    from monitor.watchlists import WatchlistError

    original = WatchlistError(Path("watchlists/sahel.yaml"), 4, "countries[1]", "unknown country")
    restored = pickle.loads(pickle.dumps(original))
    assert str(restored) == "watchlists/sahel.yaml:4: countries[1]: unknown country"
    assert (restored.path, restored.line, restored.key_path, restored.problem) == (
        Path("watchlists/sahel.yaml"),
        4,
        "countries[1]",
        "unknown country",
    )
    assert isinstance(restored, ValueError) and isinstance(restored, MonitorError)


def test_notes_survive_pickling() -> None:
    original = FetchError("http_429", "https://steppe.example.org/rss: too many requests")
    original.add_note("retried after 120 s")
    restored = pickle.loads(pickle.dumps(original))
    assert restored.__notes__ == ["retried after 120 s"]


@settings(max_examples=200, deadline=None)
@given(cls=st.sampled_from(EXCEPTIONS), data=st.data())
def test_any_field_values_round_trip(cls: type[BaseException], data: st.DataObject) -> None:
    values = {name: data.draw(strategy, label=name) for name, strategy in STRATEGIES.items()}
    original = build(cls, values)
    assert_same(pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL)), original)


def _parse_in_worker(url: str) -> str:
    """Stands in for the parse worker: an HTML page that links to two feeds."""
    if url.endswith("/news"):
        raise ParseError(
            "not_a_feed",
            f"{url} is an HTML page, not a feed; it links to 2 feeds",
            feed_links=(f"{url}/rss", f"{url}/atom.xml"),
        )
    return f"parsed {url}"


def test_a_parse_error_in_a_worker_reaches_the_parent_and_the_pool_goes_on() -> None:
    # the product's pool uses the forkserver context; the error crosses the process pickled
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("forkserver")) as pool:
        with pytest.raises(ParseError) as caught:
            pool.submit(_parse_in_worker, "https://steppe.example.org/news").result(timeout=60)
        error = caught.value
        assert error.kind == "not_a_feed"
        assert error.feed_links == (
            "https://steppe.example.org/news/rss",
            "https://steppe.example.org/news/atom.xml",
        )
        assert str(error) == (
            "https://steppe.example.org/news is an HTML page, not a feed; it links to 2 feeds"
        )
        # the next feeds of the poll are parsed by the same pool
        following = pool.submit(_parse_in_worker, "https://lake.example.net/rss")
        assert following.result(timeout=60) == "parsed https://lake.example.net/rss"
        with pytest.raises(ParseError):
            pool.submit(_parse_in_worker, "https://lake.example.net/news").result(timeout=60)
