"""The ``cgan`` method: conditional networks and the checks a class-conditional GAN needs.

The optimizers and loss match the ``infogan`` method's so that ``ganforge compare`` sets the two side
by side with only the use of labels differing. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

from ganforge import Method

LABEL_KIND = "label"


def defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Recipe fragment merged under the user's recipe (the user's keys win)."""
    return {
        "generator": {"kind": "cgan_mnist"},
        "critic": {"kind": "cgan_mnist"},
        "objective": {"kind": "nonsaturating"},
        "optim": {
            "generator": {"lr": 1e-3, "betas": [0.5, 0.999]},
            "critic": {"lr": 2e-4, "betas": [0.5, 0.999]},
        },
    }


def check(recipe: Any) -> list[tuple[str, str]]:
    """A CGAN is conditioned on exactly one label factor."""
    labels = [f for f in recipe.latent.factors if f.kind == LABEL_KIND]
    if len(labels) == 1:
        return []
    if not labels:
        return [("latent.factors", "CGAN needs a label to condition on; add [[latent.factors]] "
                                   "name = \"y\", kind = \"label\", k = 10 (the data's number of classes)")]
    names = ", ".join(repr(f.name) for f in labels)
    return [("latent.factors", f"CGAN conditions on one label, but {len(labels)} factors are labels ({names}); keep one")]


def build(options: object = None) -> Method:
    """Factory for ``[model] method = "cgan"``."""
    return Method(
        name="cgan",
        description="Conditional GAN (Mirza & Osindero, 2014): G and the critic both see the class label.",
        defaults=defaults,
        check=check,
    )
