"""The command line: a thin Click layer that parses options and calls the core.

Each command calls one library function; :class:`cocoprep.errors.CocoprepError` raised anywhere
below becomes a one-line ``Error: …`` and exit status 1 (never a traceback). Heavy imports happen
inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import click

from cocoprep import __version__
from cocoprep.errors import CocoprepError


class _Group(click.Group):
    """A group that turns the library's errors into one-line Click errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CocoprepError as error:
            raise click.ClickException(str(error)) from error


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="cocoprep")
def main() -> None:
    """Prepare COCO (and any COCO-format dataset) for Ultralytics YOLO training.

    \b
    Example:
      cocoprep convert annotations/instances_val2017.json --root datasets/coco
    """
