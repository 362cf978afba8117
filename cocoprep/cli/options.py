"""What every command shares: output options, the workers option, and turning failures into
one line and an exit code.

The library names parameters in its messages (``{split}``); here they become the flags of the
command that failed (``--split``), read off the command's own options, so a message always
names an option the user can type.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from cocoprep.errors import CocoprepError
from cocoprep.fileio import write_atomic
from cocoprep.interrupts import Interrupted, signals_as_interrupts
from cocoprep.outputs import check_outputs


class _EchoHandler(logging.Handler):
    """Log records of the library as ``warning: …`` lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _setup_logging() -> None:
    logger = logging.getLogger("cocoprep")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler(logging.WARNING))


def flag_names(command: click.Command) -> dict[str, str]:
    """Library parameter name → how the user writes it on ``command``'s line.

    An option is found by its Python name and by the name of its longest flag
    (``--images`` → ``images``), an argument by its metavar.

    >>> @click.command()
    ... @click.option("--images", "images_dir")
    ... @click.argument("targets", nargs=-1)
    ... def cmd(images_dir, targets): ...
    >>> flag_names(cmd)
    {'images_dir': '--images', 'images': '--images', 'targets': 'TARGETS'}
    """
    names: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            flag = max(param.opts, key=len)
            names[param.name or flag] = flag
            names.setdefault(flag.lstrip("-").replace("-", "_"), flag)
        elif param.name:
            names[param.name] = param.name.upper()
    return names


def speller(command: click.Command | None) -> Callable[[str], str]:
    """How ``command`` spells a library parameter: as its flag (``split`` → ``--split``)."""
    names = flag_names(command) if command is not None else {}
    return lambda name: names.get(name, "--" + name.replace("_", "-"))


def error_line(error: CocoprepError, command: click.Command | None) -> str:
    """The library's message with its parameters spelled as ``command``'s flags."""
    return error.render(speller(command))


def _failed_command(ctx: click.Context) -> click.Command | None:
    name = ctx.invoked_subcommand
    return (
        ctx.command.get_command(ctx, name)
        if name and isinstance(ctx.command, click.Group)
        else None
    )


#: What to do about the OS errors users meet, by errno.
_OS_ADVICE = {
    errno.ENOSPC: "free some space and run again",
    errno.EDQUOT: "free some space within your quota and run again",
    errno.EROFS: "the file system is mounted read-only; choose a writable place",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
    errno.ENOENT: "check the path",
}


def os_error_line(error: OSError) -> str:
    """One line for an OS error the library did not expect: the path, the cause, what to do.

    >>> os_error_line(OSError(errno.ENOSPC, "No space left on device", "R/val.txt"))
    'R/val.txt: No space left on device; free some space and run again'
    """
    where = f"{error.filename}: " if error.filename else ""
    advice = _OS_ADVICE.get(error.errno or 0)
    return f"{where}{error.strerror or error}" + (f"; {advice}" if advice else "")


class Group(click.Group):
    """A group whose commands end with an exit code Make can trust, never a traceback.

    Library errors print one ``Error: …`` line and exit 1; an OS error the library did not
    expect names its path and cause, exit 1; Ctrl-C exits 130, SIGTERM 143.
    """

    def invoke(self, ctx: click.Context) -> Any:
        _setup_logging()
        try:
            with signals_as_interrupts():
                return super().invoke(ctx)
        except CocoprepError as error:
            raise click.ClickException(error_line(error, _failed_command(ctx))) from error
        except OSError as error:
            raise click.ClickException(os_error_line(error)) from error
        except KeyboardInterrupt as error:
            stop = error if isinstance(error, Interrupted) else Interrupted()
            click.echo(f"interrupted ({stop})", err=True)
            ctx.exit(stop.exit_code)


@dataclass(frozen=True)
class Output:
    """What the user asked to see: ``quiet`` drops the summary and the bars."""

    quiet: bool = False
    progress: bool | None = None

    @property
    def bars(self) -> bool | None:
        """The library's ``progress`` argument: off when quiet, else the flag (None: a tty)."""
        return False if self.quiet else self.progress

    def summary(self, text: str) -> None:
        """Print a summary on stderr unless quiet."""
        if not self.quiet and text:
            click.echo(text.rstrip("\n"), err=True)

    def finish(self, summary: Any, report: str | None) -> None:
        """Write ``summary.as_dict()`` as JSON to ``report`` (when given), then print
        ``summary.format()`` unless quiet."""
        if report:
            write_atomic(report, json.dumps(summary.as_dict(), indent=2).encode())
        self.summary(summary.format())


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-q/--quiet`` and ``--progress/--no-progress``, passed on as ``out: Output``."""

    @click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary.")
    @click.option(
        "--progress/--no-progress",
        default=None,
        help="Progress bars on stderr  [default: when stderr is a terminal].",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, quiet: bool, progress: bool | None, **kwargs: Any) -> Any:
        return command(*args, out=Output(quiet=quiet, progress=progress), **kwargs)

    return wrapper


report_option = click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the summary as JSON to this file.",
)


def check_report(report: str | None, inputs: list[str | os.PathLike]) -> None:
    """Before the work starts: an error when ``--report`` names one of the inputs."""
    if report:
        check_outputs(inputs, [report], "report")


workers_option = click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes  [default: all cores]."
)


def comma_list_or_none(
    ctx: click.Context, param: click.Parameter, text: str | None
) -> list[str] | None:
    """A click callback: a comma-separated option as a list (None when not given or empty)."""
    return comma_list(text) or None


def comma_list_if_given(
    ctx: click.Context, param: click.Parameter, text: str | None
) -> list[str] | None:
    """A click callback: a comma-separated option as a list, None only when not given (an
    empty value is an empty list)."""
    return None if text is None else comma_list(text)


def comma_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; ``None`` → ``[]``.

    >>> comma_list("person, dog,,cat")
    ['person', 'dog', 'cat']
    """
    return [item.strip() for item in (text or "").split(",") if item.strip()]
