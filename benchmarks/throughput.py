"""Training throughput of the InfoGAN MNIST step against the public code: ``python benchmarks/throughput.py``.

Times, in one process and interleaved (round-robin blocks of steps, so a noisy machine slows every
variant alike), a full training iteration (critic + generator + Q) at batch 128 for:

- ``reference``: the public PyTorch InfoGAN for MNIST that users copy (Natsu6767/InfoGAN-PyTorch), its
  structure mirrored here (:class:`PublicStep` says exactly what; ``benchmarks/public_code_check.py`` times
  it against a checkout of the public code itself): torchvision's MNIST dataset and
  DataLoader with per-image transforms, one generator forward whose fake batch serves both steps,
  separate trunk passes for the real and the fake batch, a second trunk pass with critic weight
  gradients for G and Q, sigmoid + ``BCELoss``, Adam over two parameter groups each, ``.item()`` on the
  losses every iteration, fp32, NCHW;
- ``ganforge``: the engine's own ``Trainer.train_step`` for ``recipes/infogan_mnist.toml`` with the shipped
  defaults (``precision = "auto"``: bf16 on a CPU with native bf16 that multiplies faster than fp32, else
  fp32), and variants with ``train.precision=fp32`` and ``=bf16``, ``train.channels_last=false``,
  ``train.joint_critic_pass=true`` (batch norm over real and fake together: a different method, for
  speed comparison only) and ``train.compile=true``.

The reference uses the public code's networks (the paper's architecture written as convolutions),
ganforge its ``infogan_mnist`` networks (the same layers as FC layers); the FLOPs of one step are
printed for each, so the two can be compared as work done, not only as images/s. It prints median
images/s with the spread over rounds, ms/step, the ratio to ``reference``, achieved GFLOP/s (counted
with ``torch.utils.flop_counter``) as a fraction of this machine's measured GEMM peak in the variant's
precision, and the process's peak RSS. ``--profile VARIANT`` prints torch.profiler's op table instead.
``--isa avx2`` re-runs the benchmark with ATen, oneDNN and MKL held to AVX2 kernels: on an AVX-512 machine
it stands in for an AVX2-only CPU (same clock and caches, so not a measurement of a real AVX2 part).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k"
BATCH = 128
#: ``--isa``: the environment that keeps every kernel library below AVX-512 (read when each library loads)
ISA_ENV = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}


# --- the reference: the public PyTorch InfoGAN step ---------------------------------------------------
class PublicGenerator(nn.Module):
    """The public code's MNIST G, as its layer list: 1×1 and 7×7 transposed convolutions in place of the paper's
    FC layers (74 → 1024 → 128·7·7), two 4×4 stride-2 up-convolutions, batch norm + ReLU, sigmoid output."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(74, 1024, 1, 1, bias=False), nn.BatchNorm2d(1024), nn.ReLU(),
            nn.ConvTranspose2d(1024, 128, 7, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.ConvTranspose2d(128, 64, 4, 2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, padding=1, bias=False), nn.Sigmoid())

    def forward(self, z: Tensor) -> Tensor:  # (B, 74, 1, 1) → (B, 1, 28, 28) in [0, 1]
        return self.net(z)


def public_trunk() -> nn.Module:
    """The shared D/Q trunk: 4×4 stride-2 convolutions 1 → 64 → 128, a 7×7 convolution to 1024, leaky ReLU 0.1."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(128, 1024, 7, bias=False), nn.BatchNorm2d(1024), nn.LeakyReLU(0.1, inplace=True))


class PublicQ(nn.Module):
    """Q on the trunk: 1×1 conv 1024 → 128 + batch norm, then the 10 logits, 2 means and 2 variances."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1024, 128, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.1, inplace=True))
        self.logits, self.mu, self.var = nn.Conv2d(128, 10, 1), nn.Conv2d(128, 2, 1), nn.Conv2d(128, 2, 1)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.body(h)
        return self.logits(x).squeeze(), self.mu(x).squeeze(), self.var(x).squeeze().exp()


def _init(m: nn.Module) -> None:
    """DCGAN initialisation, as the public code applies it: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def torchvision_mnist_root(data_dir: Path) -> Path:
    """A temporary torchvision ``MNIST`` root whose raw files are the local 10k test images (decompressed).

    torchvision checks that all four raw files exist; the training-set names point at the test files (only
    speed is measured here), and ``train=False`` reads the test files.
    """
    import gzip
    import tempfile

    raw = Path(tempfile.mkdtemp(prefix="ganforge-bench-")) / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        target = raw / f"t10k-{kind}-ubyte"
        target.write_bytes(gzip.decompress((data_dir / f"t10k-{kind}-ubyte.gz").read_bytes()))
        (raw / f"train-{kind}-ubyte").symlink_to(target)
    return raw.parent.parent


class PublicStep:
    """One iteration of the public PyTorch InfoGAN that users copy (Natsu6767/InfoGAN-PyTorch, ``train.py``
    with ``models/mnist_model.py``), mirrored in structure, written here:

    - data: torchvision's ``MNIST`` dataset with ``Resize(28)``, ``CenterCrop(28)``, ``ToTensor()`` per image,
      a shuffled ``DataLoader`` of 128 (no workers), images in [0, 1];
    - D: the real batch through trunk and D head (sigmoid), ``BCELoss`` against ones, ``backward()``; then one
      generator forward on fresh noise (z ~ N(0, 1)^62, a one-hot digit code, 2 uniform codes), the fake batch
      *detached* through trunk and D head, ``BCELoss`` against zeros, ``backward()``, one Adam step over two
      parameter groups (trunk, D head);
    - G and Q: the *same* fake batch through the trunk again (critic weights get gradients nobody uses),
      ``BCELoss`` against ones, Q's cross-entropy for the digit code and 0.1 × the Gaussian NLL of the
      continuous codes, ``backward()``, one Adam step over two groups (G, Q);
    - ``.item()`` on both losses every iteration (the public code appends them to its loss lists).

    Labels are float (``torch.full(..., 1.0)``): current torch refuses BCE against the integer labels the
    public code creates. fp32, NCHW, as the public code runs.
    """

    def __init__(self, mnist_root: Path, device: torch.device) -> None:
        from torchvision import datasets, transforms

        torch.manual_seed(0)
        self.device = device
        self.G, self.trunk, self.Q = PublicGenerator(), public_trunk(), PublicQ()
        self.D = nn.Sequential(nn.Conv2d(1024, 1, 1), nn.Sigmoid())
        for m in (self.G, self.trunk, self.D, self.Q):
            m.apply(_init)
            m.to(device)
        self.opt_d = torch.optim.Adam([{"params": self.trunk.parameters()}, {"params": self.D.parameters()}],
                                      lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam([{"params": self.G.parameters()}, {"params": self.Q.parameters()}],
                                      lr=2e-4, betas=(0.5, 0.999))
        transform = transforms.Compose([transforms.Resize(28), transforms.CenterCrop(28), transforms.ToTensor()])
        dataset = datasets.MNIST(str(mnist_root), train=False, download=False, transform=transform)
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
        self._it = iter(self.loader)
        self.bce, self.ce = nn.BCELoss(), nn.CrossEntropyLoss()

    def _real(self) -> Tensor:
        try:
            return next(self._it)[0]
        except StopIteration:
            self._it = iter(self.loader)
            return next(self._it)[0]

    def __call__(self) -> None:
        dev = self.device
        real = self._real().to(dev)
        b = real.size(0)
        self.opt_d.zero_grad()
        label = torch.full((b,), 1.0, device=dev)
        loss_real = self.bce(self.D(self.trunk(real)).view(-1), label)
        loss_real.backward()
        label.fill_(0.0)
        idx = np.random.randint(10, size=b)
        dis_c = torch.zeros(b, 10, 1, 1, device=dev)
        dis_c[torch.arange(b), torch.from_numpy(idx)] = 1.0
        con_c = torch.rand(b, 2, 1, 1, device=dev) * 2 - 1
        noise = torch.cat([torch.randn(b, 62, 1, 1, device=dev), dis_c, con_c], dim=1)
        fake = self.G(noise)  # the one generator forward of the iteration
        loss_fake = self.bce(self.D(self.trunk(fake.detach())).view(-1), label)
        loss_fake.backward()
        d_loss = loss_real + loss_fake
        self.opt_d.step()

        self.opt_g.zero_grad()
        out = self.trunk(fake)
        label.fill_(1.0)
        gen_loss = self.bce(self.D(out).view(-1), label)
        q_logits, q_mu, q_var = self.Q(out)
        dis_loss = self.ce(q_logits, torch.from_numpy(idx).to(dev))
        x = con_c.view(b, -1)  # Gaussian NLL of the continuous codes, summed over codes, mean over the batch
        nll = (0.5 * torch.log(2 * np.pi * q_var + 1e-6) + (x - q_mu) ** 2 / (2 * q_var + 1e-6)).sum(1).mean()
        g_loss = gen_loss + dis_loss + 0.1 * nll
        g_loss.backward()
        self.opt_g.step()
        g_loss.item(), d_loss.item()


# --- ganforge's engine ---------------------------------------------------------------------------
def ganforge_step(data_dir: Path, overrides: list[str], device: torch.device) -> tuple[Callable[[], None], str]:
    """The engine's ``Trainer.train_step`` for ``recipes/infogan_mnist.toml`` at batch 128, and its precision."""
    from ganforge.recipe.model import apply_overrides, read_toml, resolve
    from ganforge.registry import load_registry
    from ganforge.training.state import Trainer
    from ganforge.data.load import load_data

    raw = read_toml(ROOT / "recipes" / "infogan_mnist.toml")
    apply_overrides(raw, ["data.source=idx", f"data.path={data_dir}", f"data.batch_size={BATCH}", *overrides])
    resolved = resolve(raw, load_registry(), "benchmark")
    trainer = Trainer(resolved, load_data(resolved), device)
    return trainer.train_step, trainer.precision


# --- measuring -------------------------------------------------------------------------------------
def gemm_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a square ``dtype`` matmul, best of ``repeats``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
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


def cpu_flags() -> str:
    """The CPU's vector and matrix extensions that matter here (from /proc/cpuinfo)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "?"
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return " ".join(f for f in wanted if f in flags) or "none of avx2/avx512/amx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with MNIST idx(.gz) files")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the median is reported)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="variant names to run besides 'reference' (default: all)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (every variant runs there; GEMM peaks stay CPU's)")
    parser.add_argument("--profile", metavar="VARIANT",
                        help="instead of timing, print torch.profiler's op table for a few steps of one variant")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native",
                        help="avx2: restrict ATen, oneDNN and MKL kernels to AVX2 (an AVX2-only CPU stood in for by this "
                             "one; 'auto' precision is then fp32)")
    args = parser.parse_args()
    if args.isa != "native" and os.environ.get("ATEN_CPU_CAPABILITY") != args.isa:  # before torch runs a kernel
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ISA_ENV[args.isa]})
    if args.threads:
        torch.set_num_threads(args.threads)

    root = torchvision_mnist_root(args.data)
    dev = torch.device(args.device)
    variants: dict[str, Callable[[], tuple[Callable[[], None], str]]] = {
        "reference": lambda: (PublicStep(root, dev), "fp32"),
        "ganforge": lambda: ganforge_step(args.data, [], dev),
        "ganforge fp32": lambda: ganforge_step(args.data, ["train.precision=fp32"], dev),
        "ganforge bf16": lambda: ganforge_step(args.data, ["train.precision=bf16"], dev),
        "ganforge nchw": lambda: ganforge_step(args.data, ["train.channels_last=false"], dev),
        "ganforge joint": lambda: ganforge_step(args.data, ["train.joint_critic_pass=true"], dev),
        "ganforge compile": lambda: ganforge_step(args.data, ["train.compile=true"], dev),
    }
    if args.only:
        variants = {k: v for k, v in variants.items() if k in args.only or k in ("reference", args.profile)}

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        step, _ = variants[args.profile]()
        for _ in range(args.warmup):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return

    steps: dict[str, Callable[[], None]] = {}
    precision: dict[str, str] = {}
    for name, make in variants.items():
        steps[name], precision[name] = make()
        t = time.perf_counter()
        for _ in range(args.warmup):
            steps[name]()
        print(f"warm-up {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    flops = {name: step_flops(step) for name, step in steps.items()}
    # the peaks of the precisions the variants use (bf16 off its native hardware is slow to measure, and unused)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peak = {p: gemm_peak(dtypes[p]) for p in sorted(set(precision.values()))}

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)  # time finished work, not queued kernels
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(args.rounds):
        for name, step in steps.items():
            sync()
            t = time.perf_counter()
            for _ in range(args.steps):
                step()
            sync()
            rates[name].append(args.steps * BATCH / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    ref = statistics.median(rates["reference"])
    print(f"InfoGAN MNIST training step, batch {BATCH}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, flags: {cpu_flags()}")
    if args.isa != "native":
        print(f"kernels restricted to {args.isa.upper()} on this CPU: {' '.join(f'{k}={v}' for k, v in ISA_ENV[args.isa].items())}")
    print(f"median of {args.rounds} interleaved rounds × {args.steps} steps; GEMM peak (2048² matmul) "
          + ", ".join(f"{p} {v:.0f} GFLOP/s" for p, v in peak.items()))
    print(f"{'variant':<17} {'prec':>4} {'images/s':>9} {'spread':>11} {'ms/step':>8} {'× ref':>6} {'GFLOP/step':>10} "
          f"{'GFLOP/s':>8} {'% peak':>7}")
    for name, values in rates.items():
        med = statistics.median(values)
        gflop = flops[name] / 1e9
        achieved = gflop * med / BATCH
        print(f"{name:<17} {precision[name]:>4} {med:>9.0f} {f'{min(values):.0f}–{max(values):.0f}':>11} "
              f"{1000 * BATCH / med:>8.1f} {med / ref:>6.2f} {gflop:>10.2f} {achieved:>8.1f} "
              f"{100 * achieved / peak[precision[name]]:>6.1f}%")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
