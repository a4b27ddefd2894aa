"""One Adam update of InfoGAN MNIST's large tensors, plain vs foreach vs fused: ``python benchmarks/adam_update.py``.

The tensors are the sizes of the paper networks' big layers (two 1024 × 6272 FC weights, 13 M
parameters, plus four 4×4 convolutions); it prints the mean ms per ``step()`` of each implementation.
"""

from __future__ import annotations

import time

import torch


def main() -> None:
    params = [torch.nn.Parameter(torch.randn(1024, 6272)) for _ in range(2)]
    params += [torch.nn.Parameter(torch.randn(128, 64, 4, 4)) for _ in range(4)]
    for p in params:
        p.grad = torch.randn_like(p)
    print(f"{sum(p.numel() for p in params) / 1e6:.1f} M parameters, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for name, kwargs in (("plain", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True})):
        opt = torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.999), **kwargs)
        for _ in range(3):
            opt.step()
        t = time.perf_counter()
        for _ in range(20):
            opt.step()
        print(f"{name:>8}: {(time.perf_counter() - t) / 20 * 1000:.1f} ms per update")


if __name__ == "__main__":
    main()
