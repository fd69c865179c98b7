"""Rich progress bars with an items-per-second column; `enabled=False` makes them silent.

Without a terminal (a log file, a pipe, CI) a live bar draws nothing until the end, so a long
run looked dead: there each task prints a plain line at every tenth of its work instead."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, from rich's smoothed speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- items/s" if speed is None else f"{speed:,.1f} items/s", style="cyan")


class LineProgress(Progress):
    """Progress that, with no live display, prints `name: done/total (pct) elapsed` lines
    each time a task passes another tenth of its total (and when it finishes)."""

    STEPS = 10

    def __init__(self, *columns: ProgressColumn, **options) -> None:
        super().__init__(*columns, **options)
        self._printed: dict[int, int] = {}

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._report(task_id)

    def update(self, task_id, **changes) -> None:
        super().update(task_id, **changes)
        self._report(task_id)

    def _report(self, task_id) -> None:
        task = self._tasks[task_id]
        if not task.total:
            return
        step = int(self.STEPS * min(task.completed, task.total) / task.total)
        if step > self._printed.get(task_id, 0):
            self._printed[task_id] = step
            self.console.print(
                f"{task.description}: {task.completed:,.0f}/{task.total:,.0f} "
                f"({task.completed / task.total:.0%}) after {task.elapsed or 0:.0f} s",
                highlight=False,
            )


def progress_bar(enabled: bool = True, console: Console | None = None) -> Progress:
    """A progress display for item loops (use as a context manager): a live bar on a
    terminal, a line per tenth of the work otherwise, nothing when not `enabled`."""
    console = console or Console(stderr=True)
    if enabled and not console.is_terminal:
        return LineProgress(console=console, disable=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
