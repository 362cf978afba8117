"""The split, merge and filter commands: outputs, summaries, one-line errors naming flags."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cocoprep.cli import main

from builders import skewed_coco, write


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def source(tmp_path):
    return write(tmp_path / "instances_all.json", skewed_coco(n_images=60, n_classes=4, seed=1))


def test_split_then_merge_gives_the_images_back(source, tmp_path):
    result = run("split", source, "--out", tmp_path / "ann", "--ratios", "0.7,0.2,0.1",
                 "--stratify", "--group-by", r"^(v\d+)_", "--seed", 2)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "split " in result.output and "train" in result.output
    parts = [tmp_path / "ann" / f"instances_{n}.json" for n in ("train", "val", "test")]
    result = run("merge", *parts, "--out", tmp_path / "all.json", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    merged = json.loads((tmp_path / "all.json").read_text())
    original = json.loads(source.read_text())
    assert sorted(i["id"] for i in merged["images"]) == [i["id"] for i in original["images"]]


def test_filter_prints_what_went(source, tmp_path):
    result = run("filter", source, "--out", tmp_path / "f.json", "--merge", "class1,class2=v",
                 "--rename", "class0=person", "--drop", "class3", "--min-area", 100,
                 "--drop-empty", "--max-images", 20, "--seed", 4)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "merged class1, class2 -> v" in result.output
    found = json.loads((tmp_path / "f.json").read_text())
    assert [c["name"] for c in found["categories"]] == ["person", "v"]
    assert len(found["images"]) == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["split", "{src}", "--out", "{tmp}", "--ratios", "0.5,0.4"], "sum of 0.9; fix --ratios"),
        (["split", "{src}", "--out", "{tmp}", "--ratios", "a,b"], "expected numbers such as"),
        (["split", "{src}", "--out", "{tmp}", "--ratios", "0.5,0.5", "--group-by", "x"],
         "fix --group-by"),
        (["split", "{src}", "--out", "{dir}", "--ratios", "0.5,0.5", "--names", "all,b"],
         "pass another --out"),
        (["filter", "{src}", "--out", "{src}"], "pass another --out"),
        (["filter", "{src}", "--out", "{tmp}/o.json", "--keep", "dog"],
         "keep 'dog': expected a class of the file (class0, class1, class2, class3); fix --keep"),
        (["filter", "{src}", "--out", "{tmp}/o.json", "--rename", "class0"], "fix --rename"),
        (["filter", "{src}", "--out", "{tmp}/o.json", "--rename", "a,b=c"], "use --merge"),
        (["merge", "{src}", "{src}", "--out", "{tmp}/o.json"],
         "is also in {src}; expected each image in one input; set --on-duplicate to skip"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_naming_the_flag(source, tmp_path, args, message):
    fill = {"src": source, "tmp": tmp_path / "new", "dir": source.parent}
    result = run(*[a.format(**fill) for a in args])
    assert result.exit_code in (1, 2)
    assert message.format(**fill) in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1


@pytest.mark.parametrize("command", ["split", "merge", "filter"])
def test_help_has_examples(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"Examples:\n    cocoprep {command}" in result.output
