"""How well can the shapes recipe's networks tell the shapes apart at all? ``python benchmarks/shape_separability.py``.

A supervised check, no GAN: a classifier with the shapes recipe's critic trunk (built from
recipes/infogan_shapes.toml: the fully connected 784 → 512 → 512, leaky ReLU 0.2) and, for contrast, a small convolutional one, each trained with labels
on 20 000 shapes images and scored on 4 000 others, for each ``--max-radius`` (``data.max_radius``: the
circumradius of a scale-1 shape as a fraction of the frame). If a supervised classifier with the critic's
trunk cannot find the shape, InfoGAN's Q, which shares that trunk and has no labels, cannot either.
Prints the test accuracy every 1000 steps (batch 64, Adam 1e-3); chance is 1/3.

``--only iic`` asks the unsupervised question instead: the recipe's own convolutional categorical head
(``categorical_head = "conv"``, as built by the InfoGAN plugin) trained *without labels* by the recipe's pair
term alone (IIC: log K − I(c; c') for an image and its augmented copy, the recipe's augmentation), the
critic's optimizer settings, no GAN. Its accuracy is Hungarian-matched to the shapes, with the pair gap beside
it: whether the real-image term on its own would sort real shapes by shape.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.data.options import ShapesOptions
from ganforge.data import shapes
from ganforge.evaluation.metrics.clustering import hungarian_accuracy
from ganforge.recipe.model import load_recipe
from ganforge.registry import load_registry
from ganforge.model.system import build_system

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "infogan_shapes.toml"


class RecipeTrunk(nn.Module):
    """The shapes recipe's own critic trunk (built from the recipe, as training builds it) + a 3-way linear head."""

    def __init__(self) -> None:
        super().__init__()
        resolved = load_recipe(RECIPE, load_registry())
        self.critic = build_system(resolved, (1, 28, 28), None).critic
        width = self.critic.features(torch.zeros(2, 1, 28, 28)).shape[1]
        self.out = nn.Linear(width, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.critic.features(x))


def recipe_head(overrides: list[str]) -> tuple[Any, Any]:
    """The shapes recipe's regularizer (a fresh one, ``overrides`` applied as ``--set`` would) and its critic
    optimizer's settings."""
    resolved = load_recipe(RECIPE, load_registry(), overrides)
    system = build_system(resolved, (1, 28, 28), None)
    (reg,) = system.regularizers.values()
    return reg, resolved.recipe.optim.critic


def train_iic(x: Tensor, y: Tensor, train_n: int, steps: int, label: str, overrides: list[str]) -> None:
    """The recipe's conv head trained by the pair term alone on ``x[:train_n]``; accuracy on the rest."""
    from ganforge_infogan.image_ops import augment
    from ganforge_infogan.plus_regularizer import pair_information_gap  # the plugin's own term

    reg, optim = recipe_head(overrides)
    o = reg.options

    def net(images: Tensor) -> Tensor:  # the head as training calls it (normalize_size etc. applied): (B, 3)
        return reg._encoded(images)["c1"]

    opt = torch.optim.Adam(reg.encoder.parameters(), optim.lr, betas=tuple(optim.betas))
    start = time.perf_counter()
    for step in range(1, steps + 1):
        xb = x[torch.randint(0, train_n, (64,))]
        aug = augment(xb, None, o.shift, o.rotation, o.scale, o.shear)
        gap = pair_information_gap(net(xb).softmax(1), net(aug).softmax(1))
        opt.zero_grad()
        gap.backward()
        opt.step()
        if step % 1000 == 0 or step == steps:
            with torch.no_grad():
                pred = net(x[train_n:]).argmax(1)
            acc = hungarian_accuracy(pred.numpy(), y[train_n:].numpy(), n_pred=3, n_labels=3)[0]
            print(f"{label}  iic (the recipe's conv head, no labels)  step {step:>5}  test accuracy {acc:.3f}  "
                  f"pair gap {gap.item():.3f} of ln 3 = 1.099  ({time.perf_counter() - start:.0f} s)", flush=True)


def networks() -> dict[str, nn.Module]:
    return {
        "mlp (the recipe's critic trunk)": RecipeTrunk(),
        "cnn (3 convs, max pool)": nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1, stride=2), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Linear(64, 3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-radius", type=float, nargs="+", default=[0.2, 0.35])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--only", choices=["mlp", "cnn", "iic"], help="one network only; iic: unsupervised, the pair term")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="with --only iic: a recipe override, as `ganforge run --set` takes it (repeatable)")
    args = parser.parse_args()
    train_n, test_n = 20_000, 4_000
    for radius in args.max_radius:
        torch.manual_seed(args.seed)
        options = ShapesOptions(image_size=28, size=train_n + test_n, max_radius=radius)
        factors = shapes.sample_factors(train_n + test_n, torch.Generator().manual_seed(args.seed), options)
        x = shapes.render_named(factors, image_size=28, max_radius=radius).float().div(127.5).sub(1)  # (N, 1, 28, 28)
        y = factors["shape"]
        if args.only == "iic":
            train_iic(x, y, train_n, args.steps, f"max_radius {radius:g}", args.overrides)
            continue
        for name, net in networks().items():
            if args.only and not name.startswith(args.only):
                continue
            opt = torch.optim.Adam(net.parameters(), 1e-3)
            start = time.perf_counter()
            for step in range(1, args.steps + 1):
                i = torch.randint(0, train_n, (64,))
                loss = nn.functional.cross_entropy(net(x[i]), y[i])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if step % 1000 == 0 or step == args.steps:
                    with torch.no_grad():
                        acc = (net(x[train_n:]).argmax(1) == y[train_n:]).float().mean().item()
                    print(f"max_radius {radius:g}  {name:<32} step {step:>5}  test accuracy {acc:.3f}  "
                          f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
