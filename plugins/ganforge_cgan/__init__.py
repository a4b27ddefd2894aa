"""ganforge's CGAN plugin (Mirza & Osindero, 2014): a class-conditional GAN trained with real labels.

Conditioning is the core's latent plumbing, not an engine special case: the ``label`` latent factor
declares ``conditions_critic``, so the engine feeds the critic the data's labels with real images and
the sampled labels with fakes, while the generator sees the label's one-hot columns in its input
like any other code. This plugin adds that factor, a generator and a critic that use the label
(one-hot maps concatenated into the feature maps; a projection head as an option) and the ``cgan``
method. Registered through the ``ganforge`` entry-point group (``cgan = "ganforge_cgan"``); factories
are ``"module:attr"`` strings, so listing plugins does not import torch.
"""

from __future__ import annotations

from typing import Any

from ganforge import NoOptions, hookimpl
from ganforge_cgan import options as o

_P = "ganforge_cgan"


@hookimpl
def register_latent_factors(register: Any) -> None:
    register("label", f"{_P}.factors:Label", o.LabelOptions,
             help="Class label y ~ Cat(K, 1/K) that conditions G and the critic; real images carry the data's labels.")


@hookimpl
def register_generators(register: Any) -> None:
    register("cgan_mnist", f"{_P}.networks:ConditionalGenerator", o.ConditionalNetOptions,
             help="InfoGAN-paper MNIST generator whose label one-hot also joins the 7×7 feature maps.")


@hookimpl
def register_critics(register: Any) -> None:
    register("cgan_mnist", f"{_P}.networks:ConditionalCritic", o.ConditionalCriticOptions,
             help="InfoGAN-paper MNIST critic conditioned on the label (input one-hot maps or a projection head).")


@hookimpl
def register_methods(register: Any) -> None:
    register("cgan", f"{_P}.method:build", NoOptions,
             help="Conditional GAN: a label factor conditions G and the critic; trained with the data's labels.")
