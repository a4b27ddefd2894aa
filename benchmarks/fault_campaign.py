"""Fault campaign on a real MNIST run: ``python benchmarks/fault_campaign.py --kills 3``.

Trains ``recipes/vanilla_mnist.toml`` (with the vanilla plugin's DCGAN networks at width 8 and a short
step budget, so the campaign takes minutes on a CPU) on the local MNIST t10k idx files, first without faults, then:

- ``--kills N`` times: a fresh ``ganforge run`` process is SIGKILLed when its metrics reach a random
  step (the kill lands wherever the process then is: a step, a metrics write, a checkpoint write),
  and the run is resumed;
- ``--write-kills M`` times: the process is SIGKILLed half-way through writing a random checkpoint's
  tensor file or sidecar (``python -m ganforge.testing.faults``), and the run is resumed;
- once, the disk fills up (``ENOSPC``) while the second checkpoint is written; the run stops with a
  CheckpointError and is resumed once space is back;
- once, a NaN appears in a loss at a random step: the run stops (``on_nonfinite = "stop"``) and is
  resumed; and once more with ``on_nonfinite = "rollback"``, where it rolls back and finishes;
- on copies of the fault-free run cut back to an earlier checkpoint: two ``ganforge run --resume`` of
  the same directory started at once (one must be refused by the run-directory lock, the other
  finish); the newest checkpoint's sidecar or tensor file replaced by a FIFO; and its metadata forged
  with recomputed checksums (``acc_count = "abc"``). Each resume must skip what it cannot use, fall
  back to the previous checkpoint and finish bit-identical.

Then, with ``--shipped-kills K`` (default 1), the same random SIGKILL and resume on the networks of the
other shipped MNIST recipes (``infogan_mnist``, ``infogan_plus_mnist``, ``cgan_mnist``, ``wgan_gp_mnist``: convolutions,
batch norm or layer norm, channels-last, ``precision = "auto"`` (bf16 where the CPU has it natively), fused
Adam, their regularizers), each against its own fault-free run; the table's "network" column says which.

For each fault it checks that the run recovers, how many bytes of checkpoints that had been verified
before the fault are gone or changed afterwards without a newer valid checkpoint replacing them
("bytes of good checkpoint lost", must be 0), and whether the final weights, optimizer state, RNG
states and metrics equal the fault-free run's bit for bit (must hold for every fault but the
rollback, which lowers the learning rate by design). It prints a table and exits non-zero when a
promise is broken. Runs go under ``--out`` (default ``bench-runs/fault-campaign``, replaced each time).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganforge.runs import checkpoint
from ganforge.training.loop import train
from ganforge.errors import CheckpointError, DivergenceError
from ganforge.testing.faults import disk_full, nonfinite_at
from ganforge.recipe.model import load_recipe
from ganforge.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"


@dataclass
class Row:
    """One kind of fault and what became of the runs that met it."""

    fault: str
    network: str = "vanilla_mnist"
    injected: int = 0
    recovered: int = 0
    bytes_lost: int = 0
    equal: int = 0
    compared: int = 0
    notes: list[str] = field(default_factory=list)


#: shipped recipe -> the ``--set`` flags that shrink its networks where they have width options
NETWORKS = {
    "vanilla_mnist": ['generator={kind = "dcgan", width = 8}', 'critic={kind = "dcgan", width = 8}'],
    "infogan_mnist": [],  # the paper's networks, full size (no width option)
    "infogan_plus_mnist": [],
    "cgan_mnist": ["generator.hidden=64", "generator.channels=8", "critic.hidden=64", "critic.channels=8"],
    "wgan_gp_mnist": ["generator.width=8", "critic.width=8"],
}


def overrides(data: Path, steps: int, every: int, recipe: str = "vanilla_mnist") -> list[str]:
    """The ``--set`` flags of every run of ``recipes/<recipe>.toml`` in the campaign (precision and layout as shipped)."""
    return ["data.source=idx", f"data.path={data}", "run.device=cpu", "data.batch_size=32", *NETWORKS[recipe],
            f"train.steps={steps}", f"train.checkpoint_every={every}", "train.log_every=2",
            "train.sample_every=1000000", "train.keep_checkpoints=100"]  # every checkpoint stays comparable


def cli(recipe: Path, sets: list[str], out: Path) -> list[str]:
    return [sys.executable, "-m", "ganforge", "run", str(recipe), *[a for s in sets for a in ("--set", s)],
            "--out", str(out), "--no-progress"]


def only_run(parent: Path) -> Path:
    (run_dir,) = [p for p in parent.iterdir() if p.is_dir()]
    return run_dir


# --- what a run left behind ------------------------------------------------------------------------
Good = dict[int, tuple[int, dict[str, torch.Tensor]]]


def good_checkpoints(run_dir: Path) -> Good:
    """Step -> (bytes of both files, tensors) of every checkpoint that verifies now (tensors, not file
    bytes, are compared: the files also record the recipe, which differs in the rollback run)."""
    good = {}
    for sidecar in checkpoint.list_checkpoints(run_dir / "checkpoints"):
        try:
            tensors, _ = checkpoint.load(sidecar)
            size = sidecar.with_suffix(".safetensors").stat().st_size + sidecar.stat().st_size
        except (CheckpointError, OSError):
            continue  # being written or pruned right now
        good[int(sidecar.stem.removeprefix("step-"))] = (size, tensors)
    return good


def same(a: dict[str, torch.Tensor] | None, b: dict[str, torch.Tensor]) -> bool:
    return a is not None and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def differing(kept: Good, reference: Good, upto: int) -> int:
    """Bytes of the checkpoints up to step ``upto`` that are missing from ``kept`` or differ from the
    fault-free run's: progress that was checkpointed before the fault and is not there intact now."""
    return sum(size for step, (size, tensors) in reference.items()
               if step <= upto and not same(kept.get(step, (0, None))[1], tensors))


def bytes_lost(before: Good, run_dir: Path) -> int:
    """Bytes of checkpoints that verified before a fault and are now neither intact nor superseded by
    a newer valid checkpoint (pruning an old one after a newer one is written loses nothing)."""
    after = good_checkpoints(run_dir)
    newest = max(after, default=-1)
    return sum(size for step, (size, tensors) in before.items()
               if not same(after.get(step, (0, None))[1], tensors) and step >= newest)


def final_state(run_dir: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    found = checkpoint.load_latest(run_dir / "checkpoints")
    assert found is not None, f"{run_dir}: no valid checkpoint"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return found[0], [{k: v for k, v in r.items() if k not in ("images_per_s", "time")} for r in rows]


def bitwise_equal(a: Path, b: Path) -> bool:
    """Same tensors (weights, optimizer state, RNG states) and same metrics lines, bit for bit."""
    (ta, ma), (tb, mb) = final_state(a), final_state(b)
    return same(ta, tb) and ma == mb


def last_step(run_dir: Path) -> int:
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        return int(json.loads(lines[-1])["step"]) if lines else 0
    except (OSError, ValueError, KeyError):
        return 0


# --- the campaign ----------------------------------------------------------------------------------
class Campaign:
    def __init__(self, args: argparse.Namespace, recipe: str = "vanilla_mnist", out: Path | None = None) -> None:
        self.args = args
        self.out: Path = out or args.out
        self.recipe = ROOT / "recipes" / f"{recipe}.toml"
        self.sets = overrides(args.data, args.steps, args.checkpoint_every, recipe)
        self.registry = load_registry()
        self.rng = random.Random(args.seed)
        self.reference = Path()

    def resume(self, run_dir: Path) -> bool:
        """Continue ``run_dir`` in this process, as ``ganforge run --resume`` does."""
        from ganforge.runs.loaded import run_recipe

        result = train(run_recipe(run_dir, self.registry), self.registry, run_dir, resume=True, progress=False,
                       say=lambda m: None)
        return result.step == self.args.steps

    def fresh(self, name: str, extra: tuple[str, ...] = ()) -> tuple[Any, Path]:
        """A resolved recipe and an empty run directory, for a run inside this process."""
        resolved = load_recipe(self.recipe, self.registry, [*self.sets, *extra])
        run_dir = self.out / name / "run"
        run_dir.mkdir(parents=True)
        return resolved, run_dir

    def run_reference(self) -> None:
        subprocess.run(cli(self.recipe, self.sets, self.out / "reference"), check=True, capture_output=True)
        self.reference = only_run(self.out / "reference")

    def kills(self, row: Row, count: int | None = None, window: tuple[int, int] | None = None) -> None:
        """SIGKILL fresh runs when their metrics reach a random step (within ``window``), resume, compare."""
        for i in range(self.args.kills if count is None else count):
            parent = self.out / f"kill-{i}"
            target = self.rng.randint(*(window or (1, self.args.steps - 2)))
            victim = subprocess.Popen(cli(self.recipe, self.sets, parent), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            while victim.poll() is None and not (parent.is_dir() and any(parent.iterdir())
                                                 and last_step(only_run(parent)) >= target):
                time.sleep(0.005)
            run_dir = only_run(parent)
            before = good_checkpoints(run_dir)
            victim.send_signal(signal.SIGKILL)
            if victim.wait() != -signal.SIGKILL:
                row.notes.append(f"run {i} finished before its kill")
                continue
            row.injected += 1
            ckpts = run_dir / "checkpoints"
            torn = list(ckpts.glob(".*.tmp")) + [p for p in ckpts.glob("*.safetensors") if not p.with_suffix(".json").exists()]
            where = "in a checkpoint write" if torn else "between writes"
            row.notes.append(f"kill {i}: metrics at step {last_step(run_dir)}, {where}")
            row.bytes_lost += bytes_lost(before, run_dir)
            self.recover(row, run_dir)

    def write_kills(self, row: Row) -> None:
        every = self.args.checkpoint_every
        for i in range(self.args.write_kills):
            parent = self.out / f"write-kill-{i}"
            step = every * self.rng.randint(2, self.args.steps // every - 1)
            fragment = f"step-{step:08d}.{self.rng.choice(['safetensors', 'json'])}"
            argv = cli(self.recipe, self.sets, parent)
            killed = subprocess.run([sys.executable, "-m", "ganforge.testing.faults", fragment, *argv[3:]], capture_output=True)
            if killed.returncode != -signal.SIGKILL:
                row.notes.append(f"write kill {i} did not happen (exit {killed.returncode})")
                continue
            row.injected += 1
            run_dir = only_run(parent)
            row.notes.append(f"write kill {i}: inside the write of {fragment}")
            row.bytes_lost += differing(good_checkpoints(run_dir), good_checkpoints(self.reference), step - 1)
            self.recover(row, run_dir)

    def recover(self, row: Row, run_dir: Path, compare: bool = True) -> None:
        if self.resume(run_dir):
            row.recovered += 1
        if compare:
            row.compared += 1
            row.equal += bitwise_equal(run_dir, self.reference)

    def cut_copy(self, name: str, keep_upto: int) -> Path:
        """A copy of the fault-free run with the checkpoints after ``keep_upto`` removed."""
        run_dir = self.out / name / "run"
        shutil.copytree(self.reference, run_dir)
        for sidecar in checkpoint.list_checkpoints(run_dir / "checkpoints"):
            if int(sidecar.stem.removeprefix("step-")) > keep_upto:
                sidecar.unlink()
                sidecar.with_suffix(".safetensors").unlink()
        return run_dir

    def concurrent_resume(self, row: Row) -> None:
        every = self.args.checkpoint_every
        run_dir = self.cut_copy("concurrent-resume", every)
        argv = [sys.executable, "-m", "ganforge", "run", "--resume", str(run_dir), "--no-progress"]
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate() for p in procs]
        refused = [err for p, (_, err) in zip(procs, outs, strict=True) if p.returncode and "another process" in err]
        finished = [p for p in procs if p.returncode == 0]
        if refused:
            row.injected += 1
            row.notes.append("two resumes at once: one refused by the lock (" + refused[0].strip().splitlines()[-1][:70] + "…)")
        else:
            row.notes.append("two resumes at once did not overlap: " + ", ".join(str(p.returncode) for p in procs))
        row.recovered += bool(refused) and len(finished) == 1
        row.bytes_lost += differing(good_checkpoints(run_dir), good_checkpoints(self.reference), every)
        row.compared += 1
        row.equal += bitwise_equal(run_dir, self.reference)

    def broken_newest(self, row: Row, what: str) -> None:
        """The newest kept checkpoint made unusable in a way its checksums cannot see; resume must fall back."""
        import os

        every = self.args.checkpoint_every
        run_dir = self.cut_copy(f"newest-{what}", 3 * every)
        newest = run_dir / "checkpoints" / f"step-{3 * every:08d}.json"
        if what == "forged":
            tensors, meta = checkpoint.load(newest)
            kept = {k: v for k, v in meta.items() if k not in ("format", "step", "tensor_file", "size", "sha256", "tensors")}
            checkpoint.save(newest.parent, 3 * every, tensors, {**kept, "acc_count": "abc"}, keep=100)
        else:
            target = newest if what == "fifo-sidecar" else newest.with_suffix(".safetensors")
            target.unlink()
            os.mkfifo(target)
        row.injected += 1
        warnings: list[str] = []
        from ganforge.runs.loaded import run_recipe

        result = train(run_recipe(run_dir, self.registry), self.registry, run_dir, resume=True, progress=False,
                       say=warnings.append)
        skipped = [w for w in warnings if w.startswith("skipping checkpoint")]
        row.notes.append(f"{what}: {skipped[0][:90] if skipped else 'not skipped!'}…; then {warnings[-1]}")
        row.recovered += result.step == self.args.steps and bool(skipped)
        row.bytes_lost += differing(good_checkpoints(run_dir), good_checkpoints(self.reference), 2 * every)
        row.compared += 1
        row.equal += bitwise_equal(run_dir, self.reference)

    def header_command(self) -> str:
        """The command line the reference run wrote into its recipe.toml (so sizes match byte for byte)."""
        return (self.reference / "recipe.toml").read_text().splitlines()[0].removeprefix("# ")

    def full_disk(self, row: Row) -> None:
        resolved, run_dir = self.fresh("disk-full")
        every = self.args.checkpoint_every
        first = [f"checkpoints/step-{every:08d}.json", f"checkpoints/step-{every:08d}.safetensors"]
        free = sum((self.reference / name).stat().st_size for name in ["recipe.toml", "samples/real.png", *first])
        with disk_full(free) as failed:
            try:
                train(resolved, self.registry, run_dir, progress=False, say=lambda m: None, command=self.header_command())
            except CheckpointError:
                row.injected += 1
        row.notes.append(f"ENOSPC writing {Path(failed[0]).name if failed else 'nothing'}")
        row.bytes_lost += differing(good_checkpoints(run_dir), good_checkpoints(self.reference), every)
        self.recover(row, run_dir)

    def nan(self, row: Row, mode: str) -> None:
        resolved, run_dir = self.fresh(f"nan-{mode}", () if mode == "stop" else (f"train.on_nonfinite={mode}",))
        at = self.rng.randint(self.args.checkpoint_every + 1, self.args.steps - 2)
        snapshots: list[Good] = []

        def say(message: str) -> None:
            if "rolled back" in message:
                snapshots.append(good_checkpoints(run_dir))

        with nonfinite_at(at) as fired:
            try:
                result = train(resolved, self.registry, run_dir, progress=False, say=say, command=self.header_command())
            except DivergenceError:
                snapshots.append(good_checkpoints(run_dir))
                result = None
        row.injected += len(fired)
        row.notes.append(f"NaN after step {at}" + (", rolled back and finished" if result else ", stopped"))
        for kept in snapshots[:1]:  # right after the fault: the checkpoints before it, intact
            row.bytes_lost += differing(kept, good_checkpoints(self.reference), at - 1)  # at's own comes after the NaN
        if result is None:
            self.recover(row, run_dir)
        else:
            row.recovered += result.step == self.args.steps


def print_table(rows: list[Row], command: str, wall: float) -> None:
    print(f"$ {command}")
    header = ("fault", "network", "faults injected", "runs recovered", "bytes of good checkpoint lost",
              "bitwise-equal final state")
    body = [(r.fault, r.network, str(r.injected), f"{r.recovered} of {r.injected}", str(r.bytes_lost),
             f"{r.equal} of {r.compared}" if r.compared else "n/a (learning rate lowered by design)") for r in rows]
    total = ("total", "", str(sum(r.injected for r in rows)),
             f"{sum(r.recovered for r in rows)} of {sum(r.injected for r in rows)}", str(sum(r.bytes_lost for r in rows)),
             f"{sum(r.equal for r in rows)} of {sum(r.compared for r in rows)}")
    widths = [max(len(x[i]) for x in [header, *body, total]) for i in range(len(header))]
    line = "| " + " | ".join("{:<%d}" % w for w in widths) + " |"
    print(line.format(*header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in [*body, total]:
        print(line.format(*r))
    for r in rows:
        for note in r.notes:
            print(f"  {r.fault} ({r.network}): {note}")
    print(f"campaign wall time {wall:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLed runs (each killed once, then resumed)")
    parser.add_argument("--write-kills", type=int, default=2, help="runs SIGKILLed inside a checkpoint write")
    parser.add_argument("--shipped-kills", type=int, default=1,
                        help="SIGKILLed runs on each other shipped MNIST recipe's networks (0: none)")
    parser.add_argument("--steps", type=int, default=60, help="training steps of every run")
    parser.add_argument("--checkpoint-every", type=int, default=10, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill and NaN steps")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory of the MNIST idx files")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-runs" / "fault-campaign")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    start = time.perf_counter()
    campaign = Campaign(args)
    campaign.run_reference()
    rows = [Row("SIGKILL at a random step"), Row("SIGKILL inside a checkpoint write"),
            Row("disk full (ENOSPC) in a checkpoint write"),
            Row("NaN loss, on_nonfinite=stop, then resume"), Row("NaN loss, on_nonfinite=rollback"),
            Row("two --resume of one run at once"), Row("newest sidecar / tensor file a FIFO"),
            Row("newest checkpoint's metadata forged")]
    campaign.kills(rows[0])
    campaign.write_kills(rows[1])
    campaign.full_disk(rows[2])
    campaign.nan(rows[3], "stop")
    campaign.nan(rows[4], "rollback")
    campaign.concurrent_resume(rows[5])
    campaign.broken_newest(rows[6], "fifo-sidecar")
    campaign.broken_newest(rows[6], "fifo-tensors")
    campaign.broken_newest(rows[7], "forged")
    for i, recipe in enumerate([r for r in NETWORKS if r != "vanilla_mnist"] if args.shipped_kills else []):
        shipped = Campaign(args, recipe, args.out / recipe)
        shipped.rng = random.Random(args.seed + 1 + i)
        shipped.run_reference()
        rows.append(Row("SIGKILL at a random step", recipe))
        # killed after the first checkpoint and before the last but one: the resumed process restores a
        # checkpoint and trains at least one interval
        every = args.checkpoint_every
        shipped.kills(rows[-1], args.shipped_kills, window=(every + 1, args.steps - 2 * every))
    command = "python benchmarks/fault_campaign.py " + " ".join(sys.argv[1:])
    print_table(rows, command.strip(), time.perf_counter() - start)
    broken = any(r.recovered != r.injected or r.bytes_lost or r.equal != r.compared or not r.injected for r in rows)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
