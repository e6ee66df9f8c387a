"""A rich table that never reads its text as markup.

rich parses ``[...]`` in plain strings as style markup and drops what it does not know, so a
cell such as ``[runaway 0.059, MISFIT]`` would vanish. Every table the CLI prints with
interpolated text is a :class:`PlainTable`: string cells, headers and the title become
:class:`rich.text.Text` as they are.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text


def plain(value: Any) -> Any:
    """``value`` as literal text when it is a string; anything else unchanged."""
    return Text(value) if isinstance(value, str) else value


class PlainTable(Table):
    """:class:`rich.table.Table` whose strings are literal text, never markup."""

    def __init__(self, *headers: Any, title: Any = None, **kwargs: Any) -> None:
        super().__init__(*(plain(h) for h in headers), title=plain(title), **kwargs)

    def add_column(self, header: Any = "", *args: Any, **kwargs: Any) -> None:
        super().add_column(plain(header) or "", *args, **kwargs)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*(plain(r) for r in renderables), **kwargs)
