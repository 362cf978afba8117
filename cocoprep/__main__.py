"""``python -m cocoprep`` runs the command line."""

from cocoprep.cli import main

main()
