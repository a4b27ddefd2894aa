"""One GAN training iteration, for every method: the algorithm, in one place.

Goodfellow et al. (2014), Algorithm 1, with each method's extra terms (InfoGAN's λ·NLL of the codes
under Q, R1, a gradient penalty, …) added by regularizers. :func:`iteration` is the whole of it::

    repeat n_critic times:
        (z, c) ~ P(z) P(c)                       (B, noise_dim), {name: (B,)}     draw_latent()
        x̃ = G(z, c)                              (B, C, H, W) in [-1, 1]         Generate
        x ~ data                                 (B, C, H, W) in [-1, 1]         next_batch()
        L_D = V_D(D(x), D(x̃)) + Σ_r every_r · terms_r(view)   the regularizers due now; CriticStep
        descend ∇L_D for D and the modules on D's optimizer (e.g. Q)
    with the last critic step's (z, c) and x̃:
        L_G = V_G(D(x̃)) + Σ_r every_r · terms_r(view)          D's parameters held fixed; GeneratorStep
        descend ∇L_G for G and the modules on G's optimizer

One generator pass per critic step, and none more: the fake batch of the last critic step, with its
graph into G, is also the generator step's, scored by the critic just updated, as the public PyTorch
InfoGAN code does (one z and one G(z) per iteration for both losses); the earlier critic steps'
fakes are drawn without a graph. The expectation each step estimates is unchanged; a second draw of
z would only add a generator forward.

``Generate``, ``CriticStep`` and ``GeneratorStep`` are small ``nn.Module``s whose ``forward`` does all
of its part's computation, so every forward that produces a gradient runs inside a module that
``training/state.py`` wraps in ``DistributedDataParallel`` when several processes train (each wrapper
averages its modules' gradients and broadcasts rank 0's buffers before its forward). Descending (zero
the gradients, ``backward()``, the optimizer's step), the precision and the device are the caller's,
passed in as ``descend`` and ``cast``.

Loss terms are logged under their owner's name: ``critic/adv`` for the objective,
``critic/<regularizer>/<term>`` for a regularizer, so no two terms can overwrite each other;
``critic/D(x)`` and ``critic/D(G(z))`` are the critic's mean output on the real and the generated batch.
With an ``[augment]`` policy (``model/augment.py``) the critic sees every image, real or generated, in
both phases and in the regularizers' own critic calls, through it; ``critic/augment/p`` logs its probability.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganforge.errors import PluginError
from ganforge.interfaces import CriticAccess, Regularizer, StepView, Terms
from ganforge.latent import LatentBatch
from ganforge.errors import blame
from ganforge.model.system import System


@dataclass
class StepResult:
    """A phase's loss (a scalar to ``backward()``) and its detached logs keyed ``<phase>/<owner>/<term>``."""

    loss: Tensor
    logs: dict[str, Tensor]


class Generate(nn.Module):
    """x̃ = G(z, c) as a module of its own: the forward that carries G's gradient, so DDP can wrap it."""

    def __init__(self, system: System) -> None:
        super().__init__()
        self.generator = system.generator
        self.spec = system.spec  # plain attribute: the latent spec turns (z, c) into G's input

    def forward(self, latent: LatentBatch) -> Tensor:
        return self.generator(self.spec.generator_input(latent))  # (B, C, H, W)


def due(every: int, index: int) -> bool:
    """Whether a regularizer with ``every`` runs at the ``index``-th call of its phase (0, every, 2·every, …)."""
    return index % every == 0


def combine(phase: str, adversarial: Tensor, terms: dict[str, tuple[Terms, int]], owners: dict[str, str]) -> StepResult:
    """``adversarial + Σ every·loss`` over the regularizers' terms, each logged under its regularizer's name.

    ``terms`` maps a regularizer's name to what it returned and its ``every``. A log that has the name of
    a loss of the same regularizer would be ambiguous in ``metrics.jsonl``: that is an error naming it.
    """
    total = adversarial.float()  # () every term is summed in float32, whatever the autocast precision
    logs = {f"{phase}/adv": adversarial.detach().float()}
    for name, (got, every) in terms.items():
        clash = sorted(got.losses.keys() & got.logs.keys())
        if clash:
            raise PluginError(f"plugin {owners.get(f'regularizers.{name}', '?')!r}: regularizer {name!r} returned "
                              f"{clash[0]!r} both as a loss and as a log in the {phase} phase; rename one")
        for key, value in got.losses.items():
            total = total + every * value.float()
            logs[f"{phase}/{name}/{key}"] = value.detach().float()  # logged unscaled
        logs.update({f"{phase}/{name}/{key}": value.detach().float() for key, value in got.logs.items()})
    return StepResult(total, logs)


def _terms(system: System, phase: str, regularizers: dict[str, Regularizer], view_for: dict[str, StepView]) -> dict[str, tuple[Terms, int]]:
    out: dict[str, tuple[Terms, int]] = {}
    for name, view in view_for.items():
        reg = regularizers[name]
        with blame(system.owners[f"regularizers.{name}"], f"regularizer {name!r} ({phase} phase)"):
            got = reg.critic_terms(view) if phase == "critic" else reg.generator_terms(view)
        if not isinstance(got, Terms):
            raise PluginError(f"plugin {system.owners[f'regularizers.{name}']!r}: regularizer {name!r} returned "
                              f"{type(got).__name__} from its {phase} terms, not ganforge.Terms")
        out[name] = (got, view.every)
    return out


def _seen(system: System) -> Callable[[Tensor], Tensor]:
    """The run's ``[augment]`` stage (differentiable: G learns through it), or the identity without one."""
    return system.augment if system.augment is not None else (lambda x: x)


@contextmanager
def frozen(modules: list[nn.Module]) -> Iterator[None]:
    """Hold ``modules``' parameters fixed (no weight gradients: the same update, less work)."""
    for m in modules:
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m in modules:
            m.requires_grad_(True)


class CriticStep(nn.Module):
    """One update of D: its submodules (the critic, and the regularizers on D's optimizer) are what it trains."""

    def __init__(self, system: System, joint_pass: bool = False) -> None:
        super().__init__()
        self.critic = system.critic
        self.trained = nn.ModuleDict(system.side("critic"))  # e.g. InfoGAN's Q: DDP averages their gradients too
        self.augment = system.augment  # the [augment] stage (ADA's p is a buffer: DDP broadcasts rank 0's)
        self.system = system  # plain attribute: the spec, objective and regularizers (G is not run here)
        self.joint_pass = joint_pass

    def forward(self, real: Tensor, labels: Tensor | None, latent: LatentBatch, fake: Tensor, step: int,
                index: int) -> StepResult:
        """``real`` (B, C, H, W), ``labels`` (B,) or None, ``latent`` (B rows) and ``fake`` = G(latent) (B, C, H, W);
        ``index`` counts critic steps."""
        s, D = self.system.spec, self.system.critic
        fake = fake.detach()  # x̃: no gradient into G from D's loss
        cond_fake = s.condition_values(latent)  # (B,) class labels for a conditional model, else None
        cond_real = labels if cond_fake is not None else None  # real images are conditioned on their labels
        regs = {k: r for k, r in self.system.regularizers.items() if due(self.system.every[k], index)}
        if any(r.needs_real_grad for r in regs.values()):
            real = real.detach().requires_grad_(True)  # a leaf: R1 differentiates D(x) with respect to x
        see = _seen(self.system)  # what the critic sees of an image: the [augment] policy's output, or the image
        if self.joint_pass:  # one trunk pass over [x; x̃] (2B, C, H, W): batch norm sees both halves
            both = None if cond_fake is None else torch.cat([cond_real, cond_fake])  # type: ignore[list-item]
            real_f, fake_f = D.features(see(torch.cat([real, fake.to(real.dtype)])), both).split(len(real))
        else:
            real_f, fake_f = D.features(see(real), cond_real), D.features(see(fake), cond_fake)  # (B, F) each
        real_logits, fake_logits = D.head(real_f, cond_real).float(), D.head(fake_f, cond_fake).float()  # (B,)
        adversarial = self.system.objective.critic_loss(real_logits, fake_logits)  # V_D: ()
        if self.system.augment is not None:
            self.system.augment.observe(real_logits, index)  # ADA: D's sign on the reals moves p
        access = CriticAccess(D, self.system.augment)
        views = {k: StepView(phase="critic", step=step, spec=s, latent=latent, fake=fake, fake_features=fake_f,
                             real=real, real_features=real_f, cond_real=cond_real, cond_fake=cond_fake, critic=access,
                             real_logits=real_logits, fake_logits=fake_logits, every=self.system.every[k])
                 for k in regs}
        result = combine("critic", adversarial, _terms(self.system, "critic", regs, views), self.system.owners)
        with torch.no_grad():  # what the critic says of each batch: D(x) and D(G(z)), means over the batch
            result.logs["critic/D(x)"] = self.system.objective.score(real_logits).mean().float()
            result.logs["critic/D(G(z))"] = self.system.objective.score(fake_logits).mean().float()
            if self.system.augment is not None:
                result.logs.update(self.system.augment.logs())
        return result


class GeneratorStep(nn.Module):
    """G's loss on the last critic step's fake: its submodules (the regularizers on G's optimizer) are what it
    trains besides G, whose gradient arrives through ``fake`` (made by :class:`Generate`)."""

    def __init__(self, system: System) -> None:
        super().__init__()
        self.trained = nn.ModuleDict(system.side("generator"))  # e.g. Q with optimizer = "generator"
        self.system = system  # plain attribute: D is used here but held fixed

    def forward(self, latent: LatentBatch, fake: Tensor, step: int) -> StepResult:
        """``latent`` (B rows) and ``fake`` = G(latent) (B, C, H, W), differentiable into G; ``step`` is the
        iteration, which also counts generator steps (one per iteration)."""
        s, D = self.system.spec, self.system.critic
        cond_fake = s.condition_values(latent)
        regs = {k: r for k, r in self.system.regularizers.items() if due(self.system.every[k], step)}
        with frozen([D, *self.system.side("critic").values()]):
            fake_f = D.features(_seen(self.system)(fake), cond_fake)  # (B, F): one trunk pass feeds the head and Q
            fake_logits = D.head(fake_f, cond_fake).float()  # (B,)
            adversarial = self.system.objective.generator_loss(fake_logits)  # V_G: ()
            access = CriticAccess(D, self.system.augment)
            views = {k: StepView(phase="generator", step=step, spec=s, latent=latent, fake=fake, fake_features=fake_f,
                                 cond_fake=cond_fake, critic=access, fake_logits=fake_logits, every=self.system.every[k])
                     for k in regs}
            return combine("generator", adversarial, _terms(self.system, "generator", regs, views), self.system.owners)


@dataclass
class Phases:
    """The three modules of an iteration, each DDP-wrapped when several processes train."""

    generate: nn.Module  # Generate
    critic: nn.Module  # CriticStep
    generator: nn.Module  # GeneratorStep


def iteration(phases: Phases, step: int, n_critic: int, draw_latent: Callable[[], LatentBatch],
              next_batch: Callable[[], tuple[Tensor, Tensor | None]],
              descend: Callable[[str, StepResult], dict[str, Tensor]],
              cast: Callable[[], AbstractContextManager]) -> list[dict[str, Tensor]]:
    """Iteration ``step`` of Algorithm 1 (the module docstring): ``n_critic`` critic steps, then one
    generator step on the last critic step's (z, c) and x̃. Returns every step's logs.

    ``draw_latent`` gives this process's rows of a latent batch, ``next_batch`` a real batch and its
    labels, ``descend(phase, result)`` backpropagates ``result.loss`` and steps that phase's optimizer;
    ``cast()`` is the autocast context every forward runs in.
    """
    logs = []
    for i in range(n_critic):
        latent = draw_latent()  # (z, c): B rows
        with cast(), torch.set_grad_enabled(i == n_critic - 1):  # only the last x̃ keeps its graph into G
            fake = phases.generate(latent)  # x̃ = G(z, c): (B, C, H, W)
        real, labels = next_batch()  # x: (B, C, H, W); labels (B,) or None
        with cast():
            critic = phases.critic(real, labels, latent, fake, step, step * n_critic + i)  # L_D
        logs.append(descend("critic", critic))
    with cast():
        generator = phases.generator(latent, fake, step)  # L_G on the last critic step's x̃
    logs.append(descend("generator", generator))
    return logs
