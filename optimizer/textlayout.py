"""Text laid out for an 80-column terminal: tables whose cells never wrap, with detail lines under
each row, and prose wrapped at spaces.

Wide tables are made narrow by design, not by wrapping cells: few, narrow columns; what does not fit
goes on an indented line under its row; ids and numbers are never broken. rich draws the tables
(imported when a table is drawn, so `hwplan --help` stays fast).
"""

from __future__ import annotations

import io

__all__ = ["WIDTH", "DETAIL", "wrap", "narrow_table"]

WIDTH = 80          # terminal tables and their prose fit an 80-column terminal
DETAIL = "     "    # indent of a row's detail lines


def wrap(text: str, indent: str = "", more: str = "  ", width: int = WIDTH) -> list[str]:
    """`text` in lines of at most `width` columns, broken only at spaces (ids and numbers stay whole);
    continuation lines get `indent + more`."""
    import textwrap

    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + more,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def narrow_table(headers: list[str], rows: list[list[str]], details: list[list[str]] | None = None,
                 footer: list[str] | None = None, right: set[int] = frozenset(),
                 headings: dict[int, str] | None = None) -> list[str]:
    """A table for an 80-column terminal, as lines: one line per row with no cell wrapped (ids stay whole;
    the layouts choose few, narrow columns), and under each row its `details`, indented and wrapped at
    spaces. `footer` is a totals row under a rule; `right` are the right-aligned column indices;
    `headings` are group titles printed on a line of their own before the row of that index."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  show_footer=footer is not None)
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if i in right else "left", no_wrap=True,
                         footer=footer[i] if footer else "")
    for r in rows:
        table.add_row(*r)
    buf = io.StringIO()
    Console(file=buf, width=1000, color_system=None, force_terminal=False).print(table)
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    head, body, tail = lines[:2], lines[2:2 + len(rows)], lines[2 + len(rows):]
    out = list(head)
    for i, line in enumerate(body):
        if headings and i in headings:
            out += wrap(headings[i])
        out.append(line)
        for d in (details[i] if details else ()):
            out += wrap(d, DETAIL)
    return out + [t for t in tail if t]
