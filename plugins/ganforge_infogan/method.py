"""The ``infogan`` method: the paper's MNIST setup as recipe defaults, and the checks InfoGAN needs.

Nothing here imports torch, so validating a recipe (``ganforge validate``) stays fast.
"""

from __future__ import annotations

from typing import Any

from ganforge import Method

MI_KIND = "mutual_information"
MI_KINDS = (MI_KIND, "mutual_information_plus")  # the paper's Q and MI loss, alone or with real-image terms


def defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Recipe fragment merged under the user's recipe (the user's keys win)."""
    return {
        "generator": {"kind": "infogan_mnist"},
        "critic": {"kind": "infogan_mnist"},
        "objective": {"kind": "nonsaturating"},  # the official launcher's GAN loss
        "regularizers": [{"kind": MI_KIND}],
        "optim": {  # Adam, the paper's learning rates: 1e-3 for G, 2e-4 for D (and Q, which shares D's optimizer)
            "generator": {"lr": 1e-3, "betas": [0.5, 0.999]},
            "critic": {"lr": 2e-4, "betas": [0.5, 0.999]},
        },
    }


def check(recipe: Any) -> list[tuple[str, str]]:
    """InfoGAN without a structured code, or without the MI term, is just a GAN: say so."""
    problems: list[tuple[str, str]] = []
    if not recipe.latent.factors:
        problems.append((
            "latent.factors",
            "InfoGAN needs at least one structured code; add e.g. "
            "[[latent.factors]] name = \"c1\", kind = \"categorical\", k = 10",
        ))
    if not any(r.kind in MI_KINDS for r in recipe.regularizers):
        problems.append((
            "regularizers",
            f"InfoGAN needs a [[regularizers]] table with kind = \"{MI_KIND}\" (its Q head and MI loss; or "
            f"\"{MI_KINDS[1]}\"); you replaced the method's default list, so add it back",
        ))
    return problems


def build(options: object = None) -> Method:
    """Factory for ``[model] method = "infogan"``."""
    return Method(
        name="infogan",
        description="InfoGAN (Chen et al., 2016): a GAN whose generator maximises a variational bound on "
        "I(c; G(z, c)) through an auxiliary Q head on the critic.",
        defaults=defaults,
        check=check,
    )
