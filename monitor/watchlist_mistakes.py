"""Mistakes people make writing watchlist YAML by hand, found and worded for them.

Pure functions over the file's text and ruamel's errors; ``monitor.watchlists`` turns what they
return into a :class:`~monitor.watchlists.WatchlistError` with the file and line.

- An item indented more than the one above (``  - Alabuga Polytech`` then ``    - Yelabuga``) is
  valid YAML: a plain scalar continued on the next line, so two keywords silently become one,
  ``Alabuga Polytech - Yelabuga``. :func:`merged_item` finds such a scalar.
- ruamel reports some syntax errors where it noticed them (the end of the file, the next key),
  lines after the mistake; :func:`yaml_error` points at where the broken construct started.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MergedItem", "merged_item", "yaml_error"]


@dataclass(frozen=True)
class MergedItem:
    """A plain scalar that swallowed a list item written on its continuation line."""

    line: int  # 1-based, the continuation line that starts with '- '
    key_path: str  # keywords[1]
    value: str  # what YAML read: 'Alabuga Polytech - Yelabuga'
    continuation: str  # '- Yelabuga'

    @property
    def message(self) -> str:
        return (
            f"{self.value!r} is read as one term: the line {self.continuation!r} is indented "
            "more than the item above it; indent it like the other items (or quote the text if "
            "it is one term)"
        )


def merged_item(text: str) -> MergedItem | None:
    """The first plain scalar that runs over a line starting with ``- ``, if any."""
    try:
        node = YAML(typ="rt").compose(text)
    except MarkedYAMLError:
        return None  # reported by the loader
    lines = text.splitlines()
    return _walk(node, "", lines) if node is not None else None


def _walk(node: Node, path: str, lines: list[str]) -> MergedItem | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            name = str(key.value)
            found = _walk(value, f"{path}.{name}" if path else name, lines)
            if found:
                return found
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            found = _walk(item, f"{path}[{index}]", lines)
            if found:
                return found
    elif isinstance(node, ScalarNode) and node.style is None:
        first, last = node.start_mark.line, node.end_mark.line
        for number in range(first + 1, min(last, len(lines) - 1) + 1):
            stripped = lines[number].strip()
            if stripped.startswith("- "):
                return MergedItem(number + 1, path, str(node.value), stripped)
    return None


def yaml_error(exc: MarkedYAMLError) -> tuple[int | None, str]:
    """The line to show (1-based) and what is wrong, for a YAML syntax error."""
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    problem_line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
    start_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
    if start_line is not None:
        if context.startswith("while scanning a quoted scalar"):
            return start_line, "the quote opened on this line is not closed"
        if context.startswith("while scanning a simple key"):
            return start_line, (
                f"{problem}: this line is neither 'key: value' nor a list item '- …'"
            )
        if context.startswith("while parsing a flow"):
            return start_line, (
                f"the [ or {{ opened on this line is not closed (line {problem_line}: {problem})"
            )
    return problem_line if problem_line is not None else start_line, problem
