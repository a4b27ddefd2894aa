"""Training throughput of the InfoGAN MNIST step: ``python benchmarks/throughput.py``.

Times, in one process and interleaved (round-robin blocks of steps, so a noisy machine slows every
variant alike), a full training step (critic + generator + Q) at batch 128 for:

- ``reference``: the structure of the popular public PyTorch InfoGAN for MNIST, written here: a
  DataLoader with per-item PIL → ToTensor → Normalize transforms, separate critic passes on the real
  and the fake batch, a second critic pass for the generator and Q losses (with weight gradients for
  the critic it does not step), fp32, NCHW, ``.item()`` on the losses every step;
- the same step with one technique added at a time (cumulative), so each gain is measured on its own:
  ``+memory`` (data resident as one uint8 tensor, batch-level conversion), ``+one-pass`` (the fake
  batch's trunk features feed both D's head and Q; critic weights frozen in the generator step),
  ``+channels-last``, ``+joint`` (real and fake through the critic as one batch);
- ``ganforge``: the engine's own ``Trainer.train_step`` with the recipe's defaults, and variants
  with ``train.channels_last=false``, ``train.joint_critic_pass=true`` and ``train.compile=true``.

All variants use the same networks (the ``infogan_mnist`` generator and critic and the same Q head).
It prints median images/s with the spread over rounds, ms/step, the ratio to ``reference``,
achieved GFLOP/s (FLOPs of one step counted with ``torch.utils.flop_counter``) as a fraction of
this machine's measured fp32 GEMM peak, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"
BATCH = 128


# --- the reference-style step ------------------------------------------------------------------
class ItemDataset(torch.utils.data.Dataset):
    """torchvision-style: one PIL image per item, transformed per item."""

    def __init__(self, images: np.ndarray) -> None:
        from torchvision import transforms

        self.images = images
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i], mode="L")), 0


class ReferenceStep:
    """The public-code structure, with techniques switched on one at a time."""

    def __init__(self, images_u8: Tensor, memory: bool, one_pass: bool, channels_last: bool, joint: bool) -> None:
        from ganforge_infogan.networks import InfoGANCritic, InfoGANGenerator

        torch.manual_seed(0)
        self.memory, self.one_pass, self.joint = memory, one_pass, joint
        self.G = InfoGANGenerator(74, (1, 28, 28))
        self.D = InfoGANCritic((1, 28, 28))
        self.Q = nn.Sequential(nn.Linear(1024, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(0.1),
                               nn.Linear(128, 10 + 2 * 2))
        if channels_last:
            for m in (self.G, self.D):
                m.to(memory_format=torch.channels_last)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam([*self.G.parameters(), *self.Q.parameters()], lr=1e-3, betas=(0.5, 0.999))
        self.images = images_u8
        self.loader = torch.utils.data.DataLoader(ItemDataset(images_u8[:, 0].numpy()), batch_size=BATCH,
                                                  shuffle=True, drop_last=True, num_workers=0)
        self._it = iter(self.loader)
        self.rows = images_u8.shape[0]

    def real_batch(self) -> Tensor:
        if self.memory:
            idx = torch.randint(self.rows, (BATCH,))
            return self.images[idx].float().div_(127.5).sub_(1.0)
        try:
            return next(self._it)[0]
        except StopIteration:
            self._it = iter(self.loader)
            return next(self._it)[0]

    def __call__(self) -> None:
        G, D, Q = self.G, self.D, self.Q
        real = self.real_batch()
        cat = torch.randint(10, (BATCH,))
        cont = torch.rand(BATCH, 2) * 2 - 1
        z = torch.cat([torch.rand(BATCH, 62) * 2 - 1, F.one_hot(cat, 10).float(), cont], 1)
        fake = G(z)
        # critic step
        self.opt_d.zero_grad()
        if self.joint:
            logits = D.head(D.features(torch.cat([real, fake.detach()])))
            real_logit, fake_logit = logits.split(BATCH)
        else:
            real_logit = D.head(D.features(real))
            fake_logit = D.head(D.features(fake.detach()))
        d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        d_loss.backward()
        self.opt_d.step()
        # generator + Q step: a second pass of the fake batch through the critic
        self.opt_g.zero_grad()
        if self.one_pass:
            D.requires_grad_(False)
        feats = D.features(fake)
        g_adv = F.binary_cross_entropy_with_logits(D.head(feats), torch.ones(BATCH))
        q = Q(feats)
        mean, log_std = q[:, 10:12], q[:, 12:14]
        nll_cont = (log_std + 0.5 * ((cont - mean) / log_std.exp()) ** 2).sum(1).mean()
        g_loss = g_adv + F.cross_entropy(q[:, :10], cat) + 0.1 * nll_cont
        g_loss.backward()
        self.opt_g.step()
        if self.one_pass:
            D.requires_grad_(True)
        else:
            d_loss.item(), g_loss.item()  # per-step logging, as public code does


# --- ganforge's engine ---------------------------------------------------------------------------
def ganforge_step(data_dir: Path, overrides: list[str]) -> Callable[[], None]:
    from ganforge.trainer import Trainer, load_data
    from ganforge.recipe import apply_overrides, read_toml, resolve
    from ganforge.registry import load_registry

    raw = read_toml(ROOT / "recipes" / "infogan_mnist.toml")
    apply_overrides(raw, ["data.source=idx", f"data.path={data_dir}", f"data.batch_size={BATCH}", *overrides])
    resolved = resolve(raw, load_registry(), "benchmark")
    trainer = Trainer(resolved, load_data(resolved), torch.device("cpu"))
    return trainer.train_step


# --- measuring -------------------------------------------------------------------------------------
def gemm_peak(n: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of a square matmul, best of ``repeats``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def step_flops(step: Callable[[], None]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with MNIST idx(.gz) files")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the median is reported)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--profile", metavar="VARIANT",
                        help="instead of timing, print torch.profiler's op table for a few steps of one variant")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from ganforge.builtins.options import IdxOptions
    from ganforge.data.idx import load
    from ganforge.interfaces import DataContext

    images = load(IdxOptions(path=str(args.data)), DataContext(seed=0, cache_dir="~/.cache/ganforge")).images  # (N, 1, 28, 28) uint8
    variants: dict[str, Callable[[], Callable[[], None]]] = {
        "reference": lambda: ReferenceStep(images, False, False, False, False),
        "+memory": lambda: ReferenceStep(images, True, False, False, False),
        "+one-pass": lambda: ReferenceStep(images, True, True, False, False),
        "+channels-last": lambda: ReferenceStep(images, True, True, True, False),
        "+joint": lambda: ReferenceStep(images, True, True, True, True),
        "ganforge": lambda: ganforge_step(args.data, []),
        "ganforge nchw": lambda: ganforge_step(args.data, ["train.channels_last=false"]),
        "ganforge joint": lambda: ganforge_step(args.data, ["train.joint_critic_pass=true"]),
        "ganforge compile": lambda: ganforge_step(args.data, ["train.compile=true"]),
    }
    if args.only:
        variants = {k: v for k, v in variants.items() if k in args.only or k in ("reference", args.profile)}

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        step = variants[args.profile]()
        for _ in range(args.warmup):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return

    steps: dict[str, Callable[[], None]] = {}
    for name, make in variants.items():
        steps[name] = make()
        t = time.perf_counter()
        for _ in range(args.warmup):
            steps[name]()
        print(f"warm-up {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    flops = {name: step_flops(step) for name, step in steps.items()}
    peak = gemm_peak()

    rates: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(args.rounds):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps * BATCH / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    ref = statistics.median(rates["reference"])
    print(f"InfoGAN MNIST training step, batch {BATCH}, fp32, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"median of {args.rounds} interleaved rounds × {args.steps} steps; fp32 GEMM peak {peak:.0f} GFLOP/s")
    print(f"{'variant':<18} {'images/s':>9} {'spread':>15} {'ms/step':>8} {'× ref':>6} {'GFLOP/step':>10} "
          f"{'GFLOP/s':>8} {'% peak':>7}")
    for name, values in rates.items():
        med = statistics.median(values)
        gflop = flops[name] / 1e9
        achieved = gflop * med / BATCH
        print(f"{name:<18} {med:>9.0f} {f'{min(values):.0f}–{max(values):.0f}':>15} {1000 * BATCH / med:>8.1f} "
              f"{med / ref:>6.2f} {gflop:>10.2f} {achieved:>8.1f} {100 * achieved / peak:>6.1f}%")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
