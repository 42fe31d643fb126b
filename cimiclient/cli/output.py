"""What `cimi` prints: tables for people, the server's own documents for scripts.

APPSEC: every string that came from the server or a user (names, messages,
descriptions, console logs) is shown as plain text, never read as rich markup
(cells are ``Text`` objects, progress columns have markup off) and never
reaches a terminal as control characters (they are shown escaped, as
``\\x1b``). Table cells are cut to a readable length.
"""
import io
import json
import re
import sys

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cimiclient import short_id

#: C0 and C1 controls, DEL, and the Unicode marks that reorder or hide text on a terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
CELL_LIMIT = 60          # characters of a list table cell
VALUE_LIMIT = 2000       # characters of a value in a resource's table


def _escape(match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def clean(value, limit: int | None = None) -> str:
    """One line of harmless text: control characters escaped, cut to ``limit`` characters."""
    text = _CONTROL.sub(_escape, str(value))
    if limit and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def clean_lines(text: str) -> str:
    """Several lines of harmless text (newlines and tabs kept; CRLF, a serial console's line end, is one)."""
    return _CONTROL_BUT_LINES.sub(_escape, text.replace("\r\n", "\n"))


def echo(text: str = "", err: bool = False):
    """Print a line built from server or user text."""
    click.echo(clean_lines(text), err=err)


def echo_document(body: bytes):
    """Print a document as the server sent it; on a terminal, with control characters escaped."""
    if sys.stdout.isatty():
        click.echo(clean_lines(body.decode("utf-8", "replace")).rstrip("\n"))
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(body.rstrip(b"\n") + b"\n")
    sys.stdout.flush()


def show(renderable):
    """Print a table: styled on a terminal; plain, wide and without trailing blanks when piped."""
    if sys.stdout.isatty():
        Console(highlight=False, emoji=False, markup=False).print(renderable)
        return
    console = Console(file=io.StringIO(), width=250, force_terminal=False, no_color=True, highlight=False,
                      emoji=False, markup=False)
    with console.capture() as captured:
        console.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def kib(value):
    """A size in KiB as people read it (512 MiB, 10 GiB)."""
    if not isinstance(value, int):
        return "" if value is None else value
    for unit, size in (("TiB", 1 << 30), ("GiB", 1 << 20), ("MiB", 1 << 10)):
        if value >= size and value % (size // 1024 or 1) == 0 or value >= size * 10:
            return f"{value / size:g} {unit}"
    return f"{value} KiB"


def plain(value) -> str:
    """Any attribute value as text (references as their short id)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "href" in value and len(value) <= 2:
        return short_id(value["href"])
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def table(headers, rows, empty: str):
    """Print rows of cells (any values) under headers; ``empty`` when there are none."""
    if not rows:
        echo(empty)
        return
    grid = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for header in headers:
        grid.add_column(Text(clean(header)), no_wrap=header == "ID", overflow="fold")
    for row in rows:
        grid.add_row(*(Text(clean(cell, CELL_LIMIT)) for cell in row))
    show(grid)


def resource_table(doc: dict, extra_rows=()):
    """One resource as attribute/value lines (operations by their short names)."""
    grid = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False)
    grid.add_column("attribute", style="bold")
    grid.add_column("value", overflow="fold")
    rows = [(k, v["href"] if isinstance(v, dict) and set(v) == {"href"} else plain(v))
            for k, v in doc.items() if k not in ("resourceURI", "operations")]
    ops = [short_id(o.get("rel", "")) for o in doc.get("operations", [])]
    if ops:
        rows.append(("operations", ", ".join(ops)))
    for key, value in [*rows, *extra_rows]:
        grid.add_row(Text(clean(key, CELL_LIMIT)), Text(clean(value, VALUE_LIMIT)))
    show(grid)


class JobProgress:
    """A progress bar on stderr while a Job runs (or bytes go out), only when stderr is a terminal."""

    def __init__(self, label: str, transfer: bool = False):
        self.label, self.progress, self.task, self.transfer = clean(label, 80), None, None, transfer
        if sys.stderr.isatty():
            console = Console(file=sys.stderr, force_terminal=True, emoji=False, markup=False, highlight=False)
            amount = DownloadColumn() if transfer else TaskProgressColumn()
            self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), amount,
                                     TextColumn("{task.fields[state]}", markup=False), TimeElapsedColumn(),
                                     console=console)

    def __enter__(self):
        if self.progress:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=None if self.transfer else 100, state="QUEUED")
            self.progress.refresh()
        return self

    def update(self, job: dict):
        """Show a Job's progress and state."""
        if self.progress:
            self.progress.update(self.task, completed=job.get("progress", 0) or 0,
                                 state=clean(job.get("state", ""), 20))
            self.progress.refresh()

    def sent(self, done: int, total: int):
        """Show bytes sent of total."""
        if self.progress:
            self.progress.update(self.task, completed=done, total=total, state="SENDING")

    def __exit__(self, *exc):
        if self.progress:
            self.progress.stop()
