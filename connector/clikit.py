"""Shared pieces of the `vinculo` commands: environment, exit codes, JSON, progress, tables.

Exit codes (also in `vinculo --help`):
    0  success
    1  unexpected error (a bug: please report it with the traceback from --debug)
    2  bad usage or configuration (the message names the file and key)
    3  a platform refused our credentials or API version (the message names the key to check)
    4  finished, but some records were quarantined (see `vinculo status`)
    5  a platform or the ERP is unreachable or overloaded; safe to run again later
    130 interrupted (Ctrl-C); the next run resumes from the last committed watermark
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from connector.config import Config, load_config

if TYPE_CHECKING:
    from connector.runtime import Runtime
from connector.errors import AuthRejected, ConfigError, TransientError, VinculoError

OK, BUG, USAGE, AUTH, PARTIAL, UNAVAILABLE, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
JSON_SCHEMA_VERSION = "1"
EXIT_CODES_HELP = """
\b
Exit codes:
  0    success
  1    unexpected error (run with --debug for the traceback)
  2    bad usage or configuration (the message names the file and key)
  3    credentials or API version refused by a platform (names the key to check)
  4    finished, but some records were quarantined (see `vinculo status`)
  5    a platform or the ERP is unreachable or overloaded; safe to re-run
  130  interrupted; the next run resumes from the last committed watermark
"""

F = TypeVar("F", bound=Callable[..., Any])


class Env:
    """Streams and flags for one invocation, so tests run the CLI in-process."""

    def __init__(self, json_output: bool = False, debug: bool = False) -> None:
        self.json = json_output
        self.debug = debug
        self.out = Console(soft_wrap=True)
        self.err = Console(stderr=True, soft_wrap=True)

    def emit(self, command: str, payload: dict[str, Any]) -> None:
        """Machine output: one JSON document with a schema version."""
        click.echo(
            json.dumps(
                {"version": JSON_SCHEMA_VERSION, "command": command, **payload},
                default=str,
                indent=2,
            )
        )


def exit_code_for(error: VinculoError) -> int:
    if (
        isinstance(error, AuthRejected)
        or getattr(error, "reference", "") == "api-version-unsupported"
    ):
        return AUTH
    if isinstance(error, ConfigError):
        return USAGE
    if isinstance(error, TransientError):
        return UNAVAILABLE
    return BUG if error.kind not in ("data", "rejected") else PARTIAL


def fail(env: Env, error: VinculoError) -> NoReturn:
    code = exit_code_for(error)
    if env.json:
        env.emit("error", {"exit_code": code, **error.to_dict()})
    else:
        env.err.print(
            f"[bold red]error[/] {escape(f'[{error.reference}] {error.message}')}", highlight=False
        )
        if error.platform or error.obj:
            where = ", ".join(p for p in (error.platform, error.obj) if p)
            env.err.print(f"  where: {escape(where)}", highlight=False)
        if error.hint:
            env.err.print(f"  hint:  {escape(error.hint)}", highlight=False)
    sys.exit(code)


def guarded(fn: F) -> F:
    """Translate our errors and Ctrl-C into documented exit codes, in one place."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        env: Env = click.get_current_context().ensure_object(Env)
        try:
            return fn(*args, **kwargs)
        except VinculoError as exc:
            if env.debug:
                raise
            fail(env, exc)
        except KeyboardInterrupt:
            env.err.print("interrupted; the next run resumes from the last committed watermark")
            sys.exit(INTERRUPTED)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bars(env: Env) -> Iterator[Any]:
    """Rich bars on a terminal, nothing in --json mode (stdout stays parseable)."""
    if env.json:

        class _Quiet:
            def step(self, label: str, n: int) -> None:
                return None

        yield _Quiet()
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=env.err, transient=False) as bars:
        tasks: dict[str, Any] = {}

        class _Bars:
            def step(self, label: str, n: int) -> None:
                if label not in tasks:
                    tasks[label] = bars.add_task(label, total=None)
                bars.advance(tasks[label], n)

        yield _Bars()


def default_config_path() -> str:
    return os.environ.get("VINCULO_CONFIG", "config/vinculo.yaml")


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    default=default_config_path,
    show_default="$VINCULO_CONFIG or config/vinculo.yaml",
    help="Configuration file.",
)


def load(config_path: str) -> Config:
    return load_config(config_path)


@contextmanager
def opened(config_path: str) -> Iterator[Runtime]:
    """The configured runtime for one command, always closed afterwards."""
    from connector.runtime import open_runtime

    rt = open_runtime(load(config_path))
    try:
        yield rt
    finally:
        rt.close()


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, no_wrap=i == 0)
    for row in rows:
        t.add_row(*[escape(str(v)) for v in row])  # data, never markup
    return t
