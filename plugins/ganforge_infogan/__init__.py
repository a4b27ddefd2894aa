"""ganforge's InfoGAN plugin (Chen et al., 2016): latent codes, the Q head / MI loss, the paper's MNIST
networks and the ``infogan`` method.

Registered through the ``ganforge`` entry-point group (``infogan = "ganforge_infogan"``) like any
third-party plugin. Factories are ``"module:attr"`` strings, so importing this module (e.g. for
``ganforge plugins`` or ``ganforge validate``) imports pydantic but not torch.
"""

from __future__ import annotations

from typing import Any

from ganforge import NoOptions, hookimpl
from ganforge_infogan import options as o

_P = "ganforge_infogan"


@hookimpl
def register_latent_factors(register: Any) -> None:
    register("categorical", f"{_P}.factors:Categorical", o.CategoricalOptions,
             help="Categorical code Cat(K, p): one-hot into G, K logits out of Q (e.g. MNIST's digit code).")
    register("uniform", f"{_P}.factors:Uniform", o.UniformOptions,
             help="Continuous code Unif(low, high) with a Gaussian posterior in Q (e.g. rotation, width).")
    register("gaussian", f"{_P}.factors:Gaussian", o.GaussianOptions,
             help="Continuous code N(mean, std²) with a Gaussian posterior in Q.")


@hookimpl
def register_regularizers(register: Any) -> None:
    register("mutual_information", f"{_P}.regularizer:MutualInformation", o.MutualInformationOptions,
             help="InfoGAN's Q head on the critic trunk and its variational mutual-information loss (logs L_I).")
    register("mutual_information_plus", f"{_P}.plus_regularizer:MutualInformationPlus", o.MutualInformationPlusOptions,
             help="InfoGAN's Q and MI loss plus Q on real images (beyond the paper): balanced categories, "
             "confident and augmentation-consistent assignments.")


@hookimpl
def register_generators(register: Any) -> None:
    register("infogan_mnist", f"{_P}.networks:build_generator", NoOptions,
             help="The InfoGAN paper's MNIST generator (FC 1024, FC 7·7·128, two 4×4 up-convs, tanh).")
    register("infogan_rgb32", f"{_P}.networks_rgb:build_generator", NoOptions,
             help="The InfoGAN paper's SVHN / CelebA generator, 32×32 colour (FC 2·2·448, four 4×4 up-convs, tanh).")
    register("spatial_broadcast", f"{_P}.spatial_broadcast:build_generator", o.SpatialBroadcastOptions,
             help="Latent tiled over a coarse x/y coordinate grid, 3×3 convs, up-convs (Watters et al. 2019): "
             "position becomes a near-linear function of the codes.")


@hookimpl
def register_critics(register: Any) -> None:
    register("infogan_mnist", f"{_P}.networks:build_critic", NoOptions,
             help="The InfoGAN paper's MNIST critic (two 4×4 stride-2 convs, FC 1024 trunk shared with Q).")
    register("infogan_rgb32", f"{_P}.networks_rgb:build_critic", NoOptions,
             help="The InfoGAN paper's SVHN / CelebA critic, 32×32 colour (three 4×4 stride-2 convs; trunk shared with Q).")


@hookimpl
def register_metrics(register: Any) -> None:
    register("code_accuracy", f"{_P}.metrics:CodeAccuracy",
             help="Discrete-code accuracy on labelled real images (Hungarian matching).")
    register("mutual_information", f"{_P}.metrics:MutualInformationBound",
             help="Variational lower bound L_I per factor on generated samples, in nats.")


@hookimpl
def register_methods(register: Any) -> None:
    register("infogan", f"{_P}.method:build", NoOptions,
             help="InfoGAN: the paper's MNIST networks, non-saturating loss and MI regularizer as defaults.")
