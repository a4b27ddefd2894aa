"""The public contracts between the engine and plugins.

Networks are plain ``nn.Module`` subclasses. A *method* composes a latent spec, an objective
and regularizers; the *engine* owns the loop, optimizers, devices, logging and checkpoints.
Nothing here calls ``backward()`` or ``step()``: plugins return loss terms, the engine optimises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from torch import Tensor, nn

from ganforge.methods import Method  # noqa: F401 - re-exported: part of the contracts

if TYPE_CHECKING:
    from ganforge.latent import LatentBatch, LatentSpec
    from ganforge.results import MetricResult


# --- networks -----------------------------------------------------------------------------------
class Generator(nn.Module):
    """Maps a latent vector ``(B, latent_width)`` to images ``(B, C, H, W)`` in ``[-1, 1]``."""

    @abstractmethod
    def forward(self, z: Tensor) -> Tensor: ...


class Critic(nn.Module):
    """Scores images; exposes its trunk so auxiliary heads (InfoGAN's Q) can share it.

    ``cond`` carries class information for conditional models (``None`` otherwise).
    """

    #: width of ``features(x)``'s output, read by heads built on the shared trunk
    feature_width: int

    @abstractmethod
    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Shared trunk features ``(B, feature_width)``."""

    @abstractmethod
    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        """Adversarial logits ``(B,)`` from trunk features."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, cond), cond)


# --- objective and regularizers --------------------------------------------------------------
class Objective(ABC):
    """An adversarial loss: what the critic minimises and what the generator minimises."""

    @abstractmethod
    def critic_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor: ...

    @abstractmethod
    def generator_loss(self, fake_logits: Tensor) -> Tensor: ...

    def score(self, logits: Tensor) -> Tensor:
        """The critic's output as its objective reads it, logged as D(x) and D(G(z)) (raw logits by default;
        a probability for the non-saturating GAN loss)."""
        return logits


class CriticAccess:
    """The critic as a regularizer may call it: on any input it builds, with or without a condition.

    ``access(x, cond)`` is the adversarial logit ``(B,)``; ``features`` and ``head`` are the trunk and
    the head separately (``head(features(x, cond), cond) == access(x, cond)``). In the critic phase the
    result is differentiable in the critic's weights and in ``x`` (so ``torch.autograd.grad(...,
    create_graph=True)`` gives a gradient penalty that trains the critic); in the generator phase the
    critic's weights are frozen and gradients reach only ``x``. Each call is a real forward pass
    (batch-norm layers in training mode see that batch). With an ``[augment]`` policy, ``x`` passes
    through it first (a fresh random draw per call), as every critic input does.
    """

    def __init__(self, critic: Critic, augment: Callable[[Tensor], Tensor] | None = None) -> None:
        self._critic = critic
        self._augment = augment  # the run's [augment] stage: the critic sees every input through it

    def __call__(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self._critic.head(self.features(x, cond), cond)  # (B,)

    def features(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self._critic.features(x if self._augment is None else self._augment(x), cond)  # (B, feature_width)

    def head(self, features: Tensor, cond: Tensor | None = None) -> Tensor:
        return self._critic.head(features, cond)  # (B,)


@dataclass(kw_only=True)
class StepView:
    """Everything a regularizer sees of one critic or generator step (``training/step.py`` builds it, by keyword).

    Shapes: B is this process's batch, ``(C, H, W)`` the image shape, F the critic's ``feature_width``.

    - ``phase``: ``"critic"`` or ``"generator"``.
    - ``step``: generator steps completed before this one (0 in the first iteration).
    - ``spec``: the run's :class:`~ganforge.LatentSpec`; ``latent``: the sampled batch (noise and codes).
    - ``fake``: ``G(z, c)`` ``(B, C, H, W)``; detached from G in the critic phase, differentiable into G
      in the generator phase.
    - ``fake_features``: the critic trunk's features of ``fake`` ``(B, F)``, computed once and shared with
      the adversarial head (InfoGAN's Q reads them: "Q shares D's trunk").
    - ``fake_logits``: the adversarial logits of ``fake`` ``(B,)``.
    - ``real`` / ``real_features`` / ``real_logits``: the data batch ``(B, C, H, W)`` in ``[-1, 1]``, its
      features and logits; critic phase only (``None`` in the generator phase). When a regularizer due at
      this step sets ``needs_real_grad``, ``real`` is a leaf that requires grad and ``real_logits`` were
      computed from it, so ``torch.autograd.grad(real_logits.sum(), real, create_graph=True)`` is
      ∇ₓD(x) with no extra critic pass (R1).
    - ``cond_real``: the data's labels when the spec has a condition; ``cond_fake``: the condition
      values the fakes were generated with (both ``None`` without a condition).
    - ``critic``: a :class:`CriticAccess` to evaluate the critic on inputs the regularizer builds
      (interpolates for WGAN-GP, augmented reals for consistency terms).
    - ``every``: how often this regularizer runs (its recipe entry's ``every``); the step multiplies
      its loss terms by ``every`` (StyleGAN2's lazy regularization) and logs them unscaled.
    """

    phase: Literal["critic", "generator"]
    step: int
    spec: LatentSpec
    latent: LatentBatch
    fake: Tensor
    fake_features: Tensor
    real: Tensor | None = None
    real_features: Tensor | None = None
    cond_real: Tensor | None = None  # the data's labels when the spec has a condition
    cond_fake: Tensor | None = None  # the condition values the fakes were generated with
    critic: CriticAccess | None = None
    real_logits: Tensor | None = None
    fake_logits: Tensor | None = None
    every: int = 1


@dataclass
class Terms:
    """Named loss terms (summed into the step's loss) and named detached logs."""

    losses: dict[str, Tensor] = field(default_factory=dict)
    logs: dict[str, Tensor] = field(default_factory=dict)


class Regularizer(nn.Module):
    """Adds loss terms to the critic and/or generator step, and optionally modules.

    A regularizer's own parameters (e.g. a Q head) are optimised by the optimizer named in
    ``optimizer`` (a class attribute, or an instance attribute set in ``__init__`` when a recipe
    option chooses it); it never calls ``backward()`` or ``step()`` itself. Parameters owned by the
    critic's optimizer are frozen during the generator step; the generator's are not.

    Buffers (``self.register_buffer``, e.g. a running mean for a path-length penalty) are saved in
    checkpoints with the module and restored on resume. Loss terms are summed into the phase's loss
    and logged, both under the regularizer's recipe name (``critic/<name>/<term>``), so two
    regularizers can use the same term names; a log with the same name as a loss of the same phase is
    an error.
    """

    optimizer: Literal["critic", "generator"] = "critic"
    #: ``True`` when :meth:`critic_terms` differentiates ``view.real_logits`` with respect to
    #: ``view.real`` (R1): the critic phase then makes the real batch a leaf that requires grad.
    needs_real_grad: ClassVar[bool] = False

    def critic_terms(self, view: StepView) -> Terms:
        return Terms()

    def generator_terms(self, view: StepView) -> Terms:
        return Terms()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Adapt the encoder API of ganforge 0.1.0 (``evaluate(features)``) to :class:`Encoder`, with a warning."""
        super().__init_subclass__(**kwargs)
        if "evaluate" in cls.__dict__ and not hasattr(cls, "encode"):
            warnings.warn(f"{cls.__qualname__}.evaluate() is deprecated: define encode(features, images) "
                          "(ganforge.Encoder) instead; evaluate() will stop being called in the next release",
                          DeprecationWarning, stacklevel=2)
            reads_images = bool(getattr(cls, "evaluate_reads_images", False))

            def encode(self: Any, features: Tensor, images: Tensor) -> dict[str, Tensor]:
                return self.evaluate(features, images) if reads_images else self.evaluate(features)

            cls.encode = encode  # type: ignore[attr-defined]


@runtime_checkable
class Encoder(Protocol):
    """Optional protocol: a regularizer with a posterior head (InfoGAN's Q) that eval can run on real images.

    A regularizer that defines ``encode`` is an encoder; the factor metrics (``factor_codes``, ``mig``,
    ``factor_vae``, a plugin's ``code_accuracy``) read its posterior parameters per factor and turn them into
    values with ``factor.predict(params)``. ``features`` (B, F) are the critic trunk's features of ``images``
    (B, C, H, W, in [-1, 1]); a head that reads only the features ignores ``images``. The caller puts the
    module in ``eval()`` mode and runs it under ``torch.no_grad()``.
    """

    def encode(self, features: Tensor, images: Tensor) -> dict[str, Tensor]: ...


# --- composition -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildContext:
    """What a network or regularizer factory may need to know about the run."""

    image_shape: tuple[int, int, int]
    spec: LatentSpec
    num_classes: int | None = None
    critic_feature_width: int | None = None

    @property
    def latent_width(self) -> int:
        return self.spec.width


# --- data ----------------------------------------------------------------------------------------
@dataclass
class ImageData:
    """A dataset resident in memory: ``uint8`` images ``(N, C, H, W)`` and optional labels.

    ``factors`` holds ground-truth generative factors when the source knows them (procedural
    data), keyed by name, each ``(N,)``; ``factor_kinds`` says ``"categorical"`` or ``"continuous"``.
    ``render_factors``, offered by sources that can draw new images (procedural data), maps factor
    values (the same names and meaning as ``factors``, each ``(M,)``) to ``uint8`` images
    ``(M, C, H, W)``: metrics such as the FactorVAE score use it to make images with one factor held
    fixed. It is a plain callable, so the core needs to know nothing about the source.
    """

    images: Tensor
    labels: Tensor | None = None
    num_classes: int | None = None
    factors: dict[str, Tensor] | None = None
    factor_kinds: dict[str, str] = field(default_factory=dict)
    description: str = ""
    render_factors: Callable[[dict[str, Tensor]], Tensor] | None = None

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class DataContext:
    """What a data-source factory may need: where to cache files and the run's seed."""

    seed: int
    cache_dir: str
    recipe_dir: str = "."


# --- evaluation ------------------------------------------------------------------------------------
class Metric(ABC):
    """An evaluation metric: reads a trained run, returns a :class:`~ganforge.results.MetricResult`.

    The result's headlines (display name, unit, direction, format, reference line) are what ``eval``,
    ``compare`` and the reports show, so a metric needs nothing from the core to appear in them.
    """

    name: ClassVar[str] = "metric"
    #: what the metric needs, shown when it does not apply (e.g. "labelled data, ≥ 100 images")
    requires: ClassVar[str] = ""
    #: cheap enough to evaluate at every kept checkpoint: ``compare`` plots its headlines over training
    over_checkpoints: ClassVar[bool] = False

    def __init__(self, options: Any = None) -> None:
        self.options = options  # the validated options model the metric was registered with

    @abstractmethod
    def applies(self, run: Any) -> bool:
        """Whether this metric can be computed for ``run`` (e.g. needs labels, needs a Q head)."""

    @abstractmethod
    def compute(self, run: Any) -> MetricResult:
        """The result: headlines, details, tables, score (:class:`~ganforge.MetricResult`; anything else is an
        error naming the plugin)."""
