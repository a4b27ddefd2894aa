"""Evaluating a trained run: the metrics registered through the ``register_metrics`` hook.

``evaluate()`` returns a typed :class:`~ganforge.results.Evaluation`. An :class:`EvalRun` is what a
metric sees: the loaded run (networks in eval mode), the data
(the run's own source, or an override), and cached encodings of the real images by the
posterior heads of the run's regularizers (InfoGAN's Q).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from ganforge.data.load import load_data
from ganforge.errors import GanforgeError, PluginError, blame
from ganforge.interfaces import Encoder, ImageData, Metric
from ganforge.results import Evaluation, Headline, MetricResult
from ganforge.registry import Registry
from ganforge.runs.directory import METRICS_FILE
from ganforge.runs.loaded import LoadedRun, load_run
from ganforge.data.pixels import to_unit

T = TypeVar("T")


@dataclass
class EvalRun:
    """A trained run plus its data, as every metric sees it, and what metrics share (:meth:`once`)."""

    loaded: LoadedRun
    data: ImageData
    device: torch.device
    batch_size: int = 500
    seed: int = 0
    #: the metrics asked for by name (``eval --metric``, ``train.final_eval``, ``train.keep_best``); empty for a
    #: plain evaluation. A metric that needs something optional (a file the user fetches) can stay out of a plain
    #: evaluation without it, and fail with a message saying what is missing when it was asked for.
    named: frozenset[str] = frozenset()
    _shared: dict[Callable[..., Any], Any] = field(default_factory=dict, repr=False)

    def once(self, make: Callable[[EvalRun], T]) -> T:
        """``make(self)``, computed the first time any metric asks and shared after that (keyed by ``make``
        itself, so what comes back has ``make``'s return type: an evaluator, the evaluator's embedding of
        the real images, Q's codes of them)."""
        if make not in self._shared:
            self._shared[make] = make(self)
        return self._shared[make]

    @property
    def system(self) -> Any:
        return self.loaded.system

    @property
    def spec(self) -> Any:
        return self.loaded.system.spec

    def real_batches(self) -> Any:
        for start in range(0, len(self.data), self.batch_size):
            x = self.data.images[start : start + self.batch_size].to(self.device)
            yield to_unit(x)

    @torch.no_grad()
    def posterior(self, images: Tensor, cond: Tensor | None = None) -> dict[str, Tensor]:
        """Per-factor posterior parameters for ``images`` from every regularizer with a head.

        ``cond`` is the class of each image for a class-conditional critic (data labels for real
        images, the sampled condition for generated ones), ``None`` otherwise.
        """
        encoders = [reg for reg in self.system.regularizers.values() if isinstance(reg, Encoder)]
        if not encoders:
            return {}
        feats = self.system.critic.features(images, cond)  # (B, F)
        out: dict[str, Tensor] = {}
        for reg in encoders:
            out.update(reg.encode(feats, images))
        return out

    @cached_property
    def real_posterior(self) -> dict[str, Tensor]:
        """Posterior parameters of every real image, per factor (computed once)."""
        parts: dict[str, list[Tensor]] = {}
        labels = self.data.labels if self.spec.condition is not None else None
        for i, x in enumerate(self.real_batches()):
            cond = None if labels is None else labels[i * self.batch_size : (i + 1) * self.batch_size].to(self.device)
            for k, v in self.posterior(x, cond).items():
                parts.setdefault(k, []).append(v.float().cpu())
        return {k: torch.cat(v) for k, v in parts.items()}

    @cached_property
    def training_log(self) -> list[dict[str, Any]]:
        path = self.loaded.run_dir / METRICS_FILE
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return rows


class TrainingSummary(Metric):
    """Throughput and the last logged losses, from the run's metrics.jsonl."""

    name = "training"
    requires = "needs a metrics.jsonl"

    def applies(self, run: EvalRun) -> bool:
        return bool(run.training_log)

    def compute(self, run: EvalRun) -> MetricResult:
        rates = [r["images_per_s"] for r in run.training_log if "images_per_s" in r]
        median = statistics.median(rates) if rates else None
        details = {"steps": run.training_log[-1]["step"], "images_per_s_median": median,
                   "last": {k: v for k, v in run.training_log[-1].items() if k not in ("step", "images_per_s", "time")}}
        heads = () if median is None else (Headline("training throughput (median)", median, unit="images/s",
                                                    format="{:.0f}"),)
        return MetricResult(heads, details)


def checked_result(plugin: str, name: str, got: Any) -> MetricResult:
    """``compute``'s answer, which must be a :class:`MetricResult`; anything else is a one-line PluginError."""
    if not isinstance(got, MetricResult):
        raise PluginError(f"plugin {plugin!r}: metric {name!r} returned {type(got).__name__} from compute(); return "
                          "ganforge.MetricResult(headlines, details, ...)")
    return got


def evaluate(run_dir: str | Path, registry: Registry, overrides: list[str] | tuple[str, ...] = (),
             device: torch.device | str = "cpu", only: list[str] | None = None,
             step: int | None = None, raw_generator: bool = False) -> Evaluation:
    """Compute every registered metric that applies to the run (or those named in ``only``).

    Generated images come from the moving average of G's weights when the run kept one (``train.ema``),
    from the trained weights with ``raw_generator``; ``Evaluation.generator`` says which.

    ``step`` picks a kept checkpoint; by default the newest valid one is evaluated. Metrics that do
    not apply are listed in ``Evaluation.not_applicable`` with what they need.
    """
    unknown = sorted(set(only or ()) - set(registry.names("metric")))
    if unknown:
        raise GanforgeError(f"--metric {unknown[0]!r}: no such metric; the metrics are: {', '.join(registry.names('metric'))}")
    loaded = load_run(run_dir, registry, device, overrides, step, raw_generator=raw_generator)
    data = load_data(loaded.resolved)
    run = EvalRun(loaded, data, torch.device(device), seed=loaded.resolved.recipe.run.seed,
                  named=frozenset(only or ()))
    results: dict[str, MetricResult] = {}
    not_applicable: dict[str, str] = {}
    for name in registry.names("metric"):
        if only is not None and name not in only:
            continue
        entry = registry.get("metric", name)
        with blame(entry.plugin, f"metric {name!r}"):
            metric: Metric = entry.build(entry.options())
            if metric.applies(run):
                results[name] = checked_result(entry.plugin, name, metric.compute(run))
            else:
                not_applicable[name] = metric.requires or "does not apply to this run"
    return Evaluation(str(loaded.run_dir), loaded.step, data.description, results, not_applicable, loaded.weights)


EVAL_FILE = "eval.json"


def evaluate_apart(run_dir: Path, registry: Registry, device: torch.device | str, names: list[str],
                   step: int | None = None) -> Evaluation:
    """:func:`evaluate` from inside a training process, on forked RNG states: the metrics' random draws leave the
    process's streams (and so the run, or the next run in the same process) as they were."""
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return evaluate(run_dir, registry, device=device, only=names, step=step)


def check_metric_names(names: list[str], registry: Registry, key: str) -> None:
    """Fail before training when ``key`` (e.g. ``train.final_eval``) names a metric no plugin registers."""
    unknown = sorted(set(names) - set(registry.names("metric")))
    if unknown:
        raise GanforgeError(f"{key}: no metric {unknown[0]!r}; the metrics are: {', '.join(registry.names('metric'))}")


def final_evaluation(run_dir: Path, registry: Registry, names: list[str], device: torch.device | str) -> Evaluation:
    """``train.final_eval``: the named metrics on the run's newest checkpoint, also written to ``RUN_DIR/eval.json``."""
    from ganforge.safefiles import atomic_write

    result = evaluate_apart(run_dir, registry, device, names)
    atomic_write(Path(run_dir) / EVAL_FILE, json.dumps(result.to_json(), indent=2, default=str).encode())
    return result


def tracked_over_checkpoints(registry: Registry) -> list[str]:
    """The metrics cheap enough to evaluate at every kept checkpoint (``Metric.over_checkpoints``)."""
    out = []
    for name in registry.names("metric"):
        entry = registry.get("metric", name)
        with blame(entry.plugin, f"metric {name!r}"):
            if entry.build(entry.options()).over_checkpoints:
                out.append(name)
    return out
