"""pytest's view of the benchmark folder: a script that imports the peer (Ultralytics, installed
in a venv of its own) is not collected where the peer cannot be imported."""

from __future__ import annotations

import importlib.util

collect_ignore = [] if importlib.util.find_spec("ultralytics") else ["multipart_fidelity.py"]
