"""The command line: a thin Click layer over the library, one module per command group.

Each command parses its options, makes one library call and prints the result; heavy imports
happen inside the commands so ``--help`` stays fast. Failures are turned into exit codes in one
place, :class:`Group` (see :mod:`cocoprep.cli.options`): a library error is one ``Error: …``
line and exit 1, Ctrl-C exits 130 and SIGTERM 143, never a traceback.
"""

from __future__ import annotations

import os

import click

from cocoprep import __version__
from cocoprep.cli import convert, dataset, download, edits, export, validate
from cocoprep.cli.options import Group


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="cocoprep")
def main() -> None:
    """Prepare COCO (and any COCO-format dataset) for Ultralytics YOLO training.

    \b
    Example:
      cocoprep download val2017 --root datasets/coco
      cocoprep convert datasets/coco/annotations/instances_val2017.json --root datasets/coco
      cocoprep validate datasets/coco/coco.yaml
    """
    # No command needs threaded BLAS; OpenBLAS's helper threads would only spin for a while
    # after start-up, here and in each process started from here (set before numpy loads).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


for _module in (download, convert, edits, dataset, validate, export):
    for _command in _module.COMMANDS:
        main.add_command(_command)
