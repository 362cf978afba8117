"""Time COCO -> YOLO conversion with cocoprep and, side by side, with Ultralytics' ``convert_coco``.

Each run is a fresh subprocess (interpreter start included), timed by wall clock, while a thread
polls its whole process tree every ~100 ms (5-50 ms in the first 0.1 s): the peak RSS of the
largest process is the highest high-water mark the kernel reports for one of them (``VmHWM``),
the peak RSS of all processes is the highest sum of their RSS seen in a poll (shared pages of
forked workers count once per process, so the sum is an upper bound). Polling every 20 ms took
CPU from the measured run on a 2-core machine. Annotation files come from ``generate.py`` and
are cached in ``--data-dir`` (default /tmp/cocoprep-bench); outputs are deleted after each run.

Examples::

    python benchmarks/bench_convert.py                      # 5k 30k 118k 236k, segment
    python benchmarks/bench_convert.py --scales 118k --task detect
    python benchmarks/bench_convert.py --shape objects365   # 1.74 M images, detect, cocoprep
    python benchmarks/bench_convert.py --scales 5k --validate
    python benchmarks/bench_convert.py --scales 118k --task segment,obb --tools cocoprep
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # the sibling script, not an installed package

SCALES = {"5k": 5_000, "30k": 30_000, "118k": 118_287, "236k": 236_574}
TASKS = ("segment", "detect", "obb")
# The python of a venv with Ultralytics installed (never a dependency of cocoprep).
DEFAULT_ULTRALYTICS = Path(os.environ.get("ULTRALYTICS_PYTHON", "ultra-venv/bin/python"))
ULTRALYTICS_SNIPPET = (
    "import sys\n"
    "from ultralytics.data.converter import convert_coco\n"
    "convert_coco(labels_dir=sys.argv[1], save_dir=sys.argv[2],"
    " use_segments=sys.argv[3] == 'segment', cls91to80=sys.argv[4] == 'coco')\n"
)


@dataclass
class Measurement:
    """One subprocess run: wall time and peak memory of its process tree."""

    wall: float
    peak_rss_max: int
    peak_rss_sum: int
    returncode: int
    stderr_tail: str


def measure(cmd: list[str], *, interval: float = 0.1, env: dict | None = None) -> Measurement:
    """Run ``cmd`` to completion, polling its process tree every ``interval`` seconds (more
    often in the first half second, for short runs).

    New child processes are picked up at the next poll.
    """
    peaks = [0, 0]
    done = threading.Event()
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)

        def poll() -> None:
            tree, wait = [proc], 0.005
            while not done.is_set():
                with contextlib.suppress(psutil.Error):
                    tree = [proc, *proc.children(recursive=True)]
                rss = []
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        rss.append(p.memory_info().rss)
                        peaks[0] = max(peaks[0], high_water_mark(p))
                if rss:
                    peaks[1] = max(peaks[1], sum(rss))
                done.wait(wait)
                wait = min(interval, 2 * wait)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        returncode = proc.wait()
        wall = time.perf_counter() - start
        done.set()
        poller.join()
        peaks[1] = max(peaks[1], peaks[0])  # a poll can miss a short peak
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
    return Measurement(wall, peaks[0], peaks[1], returncode, tail)


def high_water_mark(process: psutil.Process) -> int:
    """The most RSS ``process`` has had: the kernel's ``VmHWM`` on Linux, else its RSS now.

    (``wait4``'s ``ru_maxrss`` is no substitute: it also counts the benchmark's own memory,
    which the child held between ``fork`` and ``exec``.)
    """
    try:
        with open(f"/proc/{process.pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return process.memory_info().rss


def dataset(data_dir: Path, shape: str, images: int, seed: int) -> Path:
    """The cached annotation file for this shape and scale, generated on first use.

    Each file sits alone in its folder because ``convert_coco`` reads every ``*.json`` there.
    """
    name = "zhiyuan_objv2_train.json" if shape == "objects365" else "instances_train2017.json"
    path = data_dir / f"{shape}-{images}-s{seed}" / name
    if not path.is_file():
        script = Path(generate.__file__)
        cmd = [sys.executable, str(script), "--shape", shape, "--images", str(images)]
        subprocess.run([*cmd, "--seed", str(seed), "--out", str(path)], check=True)
    return path


def count_labels(root: Path) -> int:
    """Number of ``.txt`` files in the folders below ``root`` (its own are image lists).

    Labels of nested file names may land outside ``root/labels``: Ultralytics finds the label
    of ``images/<split>/images/v1/x.jpg`` at ``images/<split>/labels/v1/x.txt``.
    """
    walk = os.walk(root)
    return sum(d != str(root) and n.endswith(".txt") for d, _, names in walk for n in names)


def run_tool(
    tool: str, ann: Path, out: Path, *, task: str, shape: str, args: argparse.Namespace
) -> tuple[Measurement, int]:
    """Convert ``ann`` into ``out`` (a new folder) with one tool; returns the measurement and
    files. Nothing is deleted between runs: on this machine's ext4 (mounted with discard),
    creating files right after deleting 100K others ran 2-5x slower, whichever tool came next."""
    if args.drop_caches:
        settle(ann)
    if tool == "cocoprep":
        cmd = [*args.cocoprep_cmd, "convert", str(ann), "--root", str(out), "--task", task]
        cmd += ["--quiet"] + (["--workers", str(args.workers)] if args.workers else [])
        env = None
    else:
        cmd = [str(args.ultralytics_python), "-c", ULTRALYTICS_SNIPPET, str(ann.parent), str(out)]
        cmd += [task, shape]
        env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False"}
    result = measure(cmd, env=env)
    return result, count_labels(out)


def settle(ann: Path) -> None:
    """Start each run from the same kernel state: flush, drop the page, dentry and inode caches
    (Linux, root), then read the input back in. On this machine's ext4, creating 118K files
    after the caches filled up (or right after deleting 118K files) took up to 5x longer, which
    swamped the difference between runs."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    with open(ann, "rb") as handle:
        while handle.read(1 << 24):
            pass


def startup(tool: str, args: argparse.Namespace) -> Measurement:
    """Interpreter start plus the tool's imports: ``cocoprep --help`` or importing the converter."""
    if tool == "cocoprep":
        return measure([*args.cocoprep_cmd, "--help"])
    cmd = [str(args.ultralytics_python), "-c", "import ultralytics.data.converter"]
    return measure(cmd, env={**os.environ, "YOLO_OFFLINE": "1"})


def has_command(cocoprep_cmd: list[str], name: str) -> bool:
    """Whether ``cocoprep NAME --help`` succeeds (commands are being written in parallel)."""
    proc = subprocess.run([*cocoprep_cmd, name, "--help"], capture_output=True, check=False)
    return proc.returncode == 0


def row(tool: str, what: str, images: int, annotations: int, m: Measurement, files: int) -> dict:
    """One table row as a plain dict (also what ``--json`` writes)."""
    return {
        "tool": tool,
        "what": what,
        "images": images,
        "annotations": annotations,
        "files": files,
        **asdict(m),
        "ann_per_s": annotations / m.wall if m.returncode == 0 and annotations else None,
    }


def format_table(rows: list[dict]) -> str:
    """Rows as an aligned text table, with Ultralytics' time and memory over cocoprep's."""
    base = {r["what"]: r for r in rows if r["tool"] == "cocoprep" and r["returncode"] == 0}
    head = ("tool", "run", "images", "annots", "files", "wall s", "max RSS MB", "sum RSS MB")
    head += ("annots/s", "x cocoprep (t/RSS)")
    lines = [head]
    for r in rows:
        ok = r["returncode"] == 0
        ref = base.get(r["what"])
        ratio = ""
        if ok and ref and r["tool"] != "cocoprep":
            ratio = f"{r['wall'] / ref['wall']:.2f} / {r['peak_rss_sum'] / ref['peak_rss_sum']:.2f}"
        lines.append(
            (
                r["tool"],
                r["what"],
                f"{r['images']:,}" if r["images"] else "-",
                f"{r['annotations']:,}" if r["annotations"] else "-",
                f"{r['files']:,}" if r["files"] else "-",
                f"{r['wall']:.2f}" if ok else f"FAILED rc={r['returncode']}",
                f"{r['peak_rss_max'] / 2**20:,.0f}",
                f"{r['peak_rss_sum'] / 2**20:,.0f}",
                f"{r['ann_per_s']:,.0f}" if r["ann_per_s"] else "-",
                ratio,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def cost_curve(rows: list[dict], small: str, large: str) -> list[str]:
    """Time and memory growth from one scale to another, per tool."""
    out = []
    for tool in dict.fromkeys(r["tool"] for r in rows):
        a = next((r for r in rows if r["tool"] == tool and r["what"] == small), None)
        b = next((r for r in rows if r["tool"] == tool and r["what"] == large), None)
        if a and b and a["returncode"] == b["returncode"] == 0:
            out.append(
                f"{tool}: {large} / {small} = {b['wall'] / a['wall']:.2f}x time, "
                f"{b['peak_rss_sum'] / a['peak_rss_sum']:.2f}x memory (summed RSS)"
            )
    return out


def task_ratios(rows: list[dict], tasks: list[str]) -> list[str]:
    """``obb / segment = 1.10x time`` per scale for cocoprep, when both tasks ran."""
    out = []
    if not {"segment", "obb"} <= set(tasks):
        return out
    wall = {r["what"]: r["wall"] for r in rows if r["tool"] == "cocoprep"}
    for what, seconds in wall.items():
        scale, _, task = what.partition(" ")
        if task == "obb" and f"{scale} segment" in wall:
            ratio = seconds / wall[f"{scale} segment"]
            out.append(f"cocoprep {scale}: obb / segment = {ratio:.2f}x time")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; see the module docstring for examples."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scales",
        default=None,
        help="comma list of 5k,30k,118k,236k or image counts (default: all four; "
        "objects365: 1742289)",
    )
    parser.add_argument(
        "--task",
        default=None,
        help="comma list of segment,detect,obb, each run at every scale (default: segment; "
        "objects365: detect); Ultralytics converts segment and detect only",
    )
    parser.add_argument("--shape", choices=["coco", "objects365"], default="coco")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="cocoprep --workers (default: its own)")
    parser.add_argument(
        "--tools", default=None, help="comma list of cocoprep,ultralytics (default: both for coco)"
    )
    parser.add_argument(
        "--ultralytics-python",
        type=Path,
        default=DEFAULT_ULTRALYTICS if DEFAULT_ULTRALYTICS.exists() else None,
        help=f"python with ultralytics installed (default: {DEFAULT_ULTRALYTICS} if present)",
    )
    parser.add_argument(
        "--cocoprep-cmd",
        type=shlex.split,
        default=[sys.executable, "-m", "cocoprep"],
        help="command that runs cocoprep (default: this python -m cocoprep)",
    )
    parser.add_argument("--validate", action="store_true", help="time `cocoprep validate` instead")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/cocoprep-bench"))
    parser.add_argument("--keep-output", action="store_true", help="keep converted labels")
    parser.add_argument(
        "--drop-caches",
        action="store_true",
        help="before each run: sync, drop the kernel caches and re-read the input (Linux, root)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    objects365 = args.shape == "objects365"
    args.tasks = (args.task or ("detect" if objects365 else "segment")).split(",")
    unknown = sorted(set(args.tasks) - set(TASKS))
    if unknown:
        parser.error(f"--task: expected some of {', '.join(TASKS)}, found {', '.join(unknown)}")
    scales = args.scales or ("1742289" if objects365 else ",".join(SCALES))
    args.scales = [(s, SCALES.get(s) or int(s)) for s in scales.split(",")]
    tools = (args.tools or ("cocoprep" if objects365 else "cocoprep,ultralytics")).split(",")
    if "ultralytics" in tools and args.ultralytics_python is None:
        print("ultralytics: no --ultralytics-python given, skipping it", file=sys.stderr)
        tools.remove("ultralytics")
    args.tools = tools
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (and the 2x / 1x cost curve when both ran)."""
    args = parse_args(argv)
    rows = []
    tools = args.tools
    if args.validate:
        if not has_command(args.cocoprep_cmd, "validate"):
            print("cocoprep has no `validate` command yet: skipping --validate", file=sys.stderr)
            return 0
        tools = ["cocoprep"]
    elif "cocoprep" in tools and not has_command(args.cocoprep_cmd, "convert"):
        print("cocoprep has no `convert` command yet: skipping cocoprep", file=sys.stderr)
        tools = [t for t in tools if t != "cocoprep"]
    for tool in tools:
        rows.append(row(tool, "startup", 0, 0, startup(tool, args), 0))
    outputs = args.data_dir / "out" / f"run-{os.getpid()}-{int(time.time())}"
    for label, images in args.scales:
        ann = dataset(args.data_dir, args.shape, images, args.seed)
        annotations = generate.default_annotations(args.shape, images)
        for task in ["validate"] if args.validate else args.tasks:
            what = f"{label} {task}"
            for tool in tools:
                if args.validate:
                    m, files = measure([*args.cocoprep_cmd, "validate", str(ann)]), 0
                elif tool == "ultralytics" and task == "obb":
                    continue  # convert_coco writes no oriented boxes
                else:
                    out = outputs / f"{tool}-{args.shape}-{images}-{task}"
                    m, files = run_tool(tool, ann, out, task=task, shape=args.shape, args=args)
                rows.append(row(tool, what, images, annotations, m, files))
                print(f"  {tool:<12} {what:<16} {m.wall:8.2f} s", file=sys.stderr)
                if m.returncode:
                    print(f"{tool} failed on {ann}:\n{m.stderr_tail}", file=sys.stderr)
    if not args.keep_output:
        shutil.rmtree(outputs, ignore_errors=True)
    print(format_table(rows))
    labels = [label for label, _ in args.scales]
    steps = ["validate"] if args.validate else args.tasks
    if "118k" in labels and "236k" in labels:
        for step in steps:
            for line in cost_curve(rows, f"118k {step}", f"236k {step}"):
                print(line)
    for line in task_ratios(rows, steps):
        print(line)
    if args.json:
        args.json.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
