"""The command line: a thin Click layer that parses options and calls the core.

Each command calls one library function and turns :class:`cocoprep.errors.CocoprepError` into a
one-line ``Error: …`` with a non-zero exit status; heavy imports happen inside the commands so
``--help`` stays fast.
"""

from __future__ import annotations

import click

from cocoprep import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cocoprep")
def main() -> None:
    """Prepare COCO (and any COCO-format dataset) for Ultralytics YOLO training.

    \b
    Example:
      cocoprep convert annotations/instances_val2017.json --root datasets/coco
    """
