"""SIGKILL the CLI mid-run, resume it, and compare with an uninterrupted run bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch

from ganforge.runs import checkpoint
from ganforge.testing import kill_after_checkpoints


def _cli(*args: str, **kw: Any) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "ganforge", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tiny_raw: dict[str, Any], tmp_path: Path) -> None:
    tiny_raw["train"].update(steps=300, log_every=2, checkpoint_every=3, sample_every=1000, keep_checkpoints=2)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text("# ganforge run tiny.toml\n" + tomli_w.dumps(tiny_raw))

    straight = _cli("run", str(recipe), "--out", str(tmp_path / "a"), "--no-progress")
    assert straight.wait(timeout=600) == 0, straight.stdout.read()  # type: ignore[union-attr]

    victim = _cli("run", str(recipe), "--out", str(tmp_path / "b"), "--no-progress")
    run_dir = kill_after_checkpoints(victim, tmp_path / "b", 2)
    steps_done = json.loads(checkpoint.list_checkpoints(run_dir / "checkpoints")[-1].read_text())["step"]
    assert steps_done < 300, "the run finished before it could be killed; make it longer"

    resumed = _cli("run", "--resume", str(run_dir), "--no-progress")
    out = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, out
    assert "resuming from step" in out

    a = checkpoint.load_latest(next((tmp_path / "a").glob("tiny-*")) / "checkpoints")[0]  # type: ignore[index]
    b = checkpoint.load_latest(run_dir / "checkpoints")[0]  # type: ignore[index]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def losses(d: Path) -> list[dict[str, Any]]:
        rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k not in ("images_per_s", "time")} for r in rows]

    la, lb = losses(next((tmp_path / "a").glob("tiny-*"))), losses(run_dir)
    assert [r["step"] for r in lb] == list(range(2, 301, 2))  # no duplicated, no missing steps
    assert la == lb
