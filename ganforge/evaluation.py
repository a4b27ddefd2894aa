"""Evaluating a trained run: the metrics registered through the ``register_metrics`` hook.

An :class:`EvalRun` is what a metric sees: the loaded run (networks in eval mode), the data
(the run's own source, or an override), and cached encodings of the real images by the
posterior heads of the run's regularizers (InfoGAN's Q).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganforge.trainer import load_data
from ganforge.errors import GanforgeError
from ganforge.interfaces import ImageData, Metric
from ganforge.registry import Registry
from ganforge.runs import METRICS_FILE, LoadedRun, load_run
from ganforge.system import blame


@dataclass
class EvalRun:
    """A trained run plus data, with shared, cached computations for metrics."""

    loaded: LoadedRun
    data: ImageData
    device: torch.device
    batch_size: int = 500
    seed: int = 0
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> Any:
        return self.loaded.system

    @property
    def spec(self) -> Any:
        return self.loaded.system.spec

    def real_batches(self) -> Any:
        for start in range(0, len(self.data), self.batch_size):
            x = self.data.images[start : start + self.batch_size].to(self.device)
            yield x.float().div(127.5).sub(1.0)

    @torch.no_grad()
    def posterior(self, images: Tensor, cond: Tensor | None = None) -> dict[str, Tensor]:
        """Per-factor posterior parameters for ``images`` from every regularizer with a head.

        ``cond`` is the class of each image for a class-conditional critic (data labels for real
        images, the sampled condition for generated ones), ``None`` otherwise.
        """
        if not self.system.regularizers:
            return {}
        feats = self.system.critic.features(images, cond)
        out: dict[str, Tensor] = {}
        for reg in self.system.regularizers.values():
            out.update(reg.evaluate(feats))
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


class CodeAccuracy(Metric):
    """Unsupervised accuracy of each discrete code: argmax of Q on real images, Hungarian-matched to labels."""

    name = "code_accuracy"
    requires = "needs labelled data and a Q head with a discrete code"

    def applies(self, run: EvalRun) -> bool:
        return run.data.labels is not None and any(
            f.discrete and f.name in run.real_posterior for f in run.spec.factors)

    def compute(self, run: EvalRun) -> dict[str, Any]:
        from ganforge.metrics import hungarian_accuracy

        out: dict[str, Any] = {}
        labels = run.data.labels.numpy()  # type: ignore[union-attr]
        for f in run.spec.factors:
            if not f.discrete or f.name not in run.real_posterior:
                continue
            pred = f.predict(run.real_posterior[f.name]).numpy()
            acc, mapping, conf = hungarian_accuracy(pred, labels, n_pred=len(f.traversal(0)),
                                                    n_labels=run.data.num_classes)
            out[f.name] = {"accuracy": acc, "mapping": mapping, "confusion": conf.tolist()}
        return out

    def headline(self, result: dict[str, Any]) -> float | None:
        """The mean accuracy over the discrete codes."""
        values = [v["accuracy"] for v in result.values()]
        return sum(values) / len(values) if values else None


class MutualInformationBound(Metric):
    """L_I = H(c) − E[−log Q(c|G(z,c))] per factor, on fresh generated samples (nats).

    ``L_I`` uses the networks in evaluation mode (batch norm with its running statistics), as sampling
    does; ``L_I_batch_statistics`` the training mode the training log uses (each batch of the recipe's
    batch size normalised by its own statistics), so the two can be told apart when they differ. H(c)
    bounds L_I from above only for a discrete code; for a continuous one L_I may exceed the prior's
    differential entropy (``discrete`` says which is which).
    """

    name = "mutual_information"
    requires = "needs latent factors and a Q head"
    samples = 5000

    def applies(self, run: EvalRun) -> bool:
        if not run.spec.factors:
            return False
        latent = run.spec.sample(2, torch.Generator(device=run.device).manual_seed(0), run.device)
        images = run.system.generator(run.spec.generator_input(latent))
        return bool(run.posterior(images, run.spec.condition_values(latent)))

    @torch.no_grad()
    def compute(self, run: EvalRun) -> dict[str, Any]:
        g = torch.Generator(device=run.device).manual_seed(run.seed + 12345)
        nll: dict[str, float] = {f.name: 0.0 for f in run.spec.factors}
        n = 0
        while n < self.samples:
            latent = run.spec.sample(min(run.batch_size, self.samples - n), g, run.device)
            params = run.posterior(run.system.generator(run.spec.generator_input(latent)), run.spec.condition_values(latent))
            for f in run.spec.factors:
                if f.name in params:
                    nll[f.name] += float(f.nll(params[f.name], latent.codes[f.name]).sum())
            n += len(latent)
        out = {f.name: f.entropy() - nll[f.name] / n for f in run.spec.factors}
        return {"L_I": out, "L_I_total": sum(out.values()), "H": {f.name: f.entropy() for f in run.spec.factors},
                "discrete": {f.name: bool(f.discrete) for f in run.spec.factors},
                "L_I_batch_statistics": self._batch_statistics(run)}

    @torch.no_grad()
    def _batch_statistics(self, run: EvalRun) -> dict[str, float]:
        """L_I with every network in training mode, batches of the recipe's size (the training log's definition)."""
        modules = list(run.system.modules().values())
        saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]  # running stats move in train mode
        for m in modules:
            m.train()
        try:
            g = torch.Generator(device=run.device).manual_seed(run.seed + 54321)
            batch = max(2, run.loaded.resolved.recipe.data.batch_size)
            nll = {f.name: 0.0 for f in run.spec.factors}
            n = 0
            while n < self.samples:
                latent = run.spec.sample(batch, g, run.device)
                images = run.system.generator(run.spec.generator_input(latent))
                params = run.posterior(images, run.spec.condition_values(latent))
                for f in run.spec.factors:
                    if f.name in params:
                        nll[f.name] += float(f.nll(params[f.name], latent.codes[f.name]).sum())
                n += len(latent)
            return {f.name: f.entropy() - nll[f.name] / n for f in run.spec.factors}
        finally:
            for m, state in zip(modules, saved, strict=True):
                m.load_state_dict(state)
                m.eval()

    def headline(self, result: dict[str, Any]) -> float | None:
        return result["L_I_total"]


class TrainingSummary(Metric):
    """Throughput and the last logged losses, from the run's metrics.jsonl."""

    name = "training"
    requires = "needs a metrics.jsonl"

    def applies(self, run: EvalRun) -> bool:
        return bool(run.training_log)

    def compute(self, run: EvalRun) -> dict[str, Any]:
        rates = [r["images_per_s"] for r in run.training_log if "images_per_s" in r]
        return {"steps": run.training_log[-1]["step"],
                "images_per_s_median": statistics.median(rates) if rates else None,
                "last": {k: v for k, v in run.training_log[-1].items() if k not in ("step", "images_per_s", "time")}}


def evaluate(run_dir: str | Path, registry: Registry, overrides: list[str] | tuple[str, ...] = (),
             device: torch.device | str = "cpu", only: list[str] | None = None,
             step: int | None = None) -> dict[str, Any]:
    """Compute every registered metric that applies to the run (or those named in ``only``).

    ``step`` picks a kept checkpoint; by default the newest valid one is evaluated.
    """
    unknown = sorted(set(only or ()) - set(registry.names("metric")))
    if unknown:
        raise GanforgeError(f"--metric {unknown[0]!r}: no such metric; the metrics are: {', '.join(registry.names('metric'))}")
    loaded = load_run(run_dir, registry, device, overrides, step)
    data = load_data(loaded.resolved)
    run = EvalRun(loaded, data, torch.device(device), seed=loaded.resolved.recipe.run.seed)
    results: dict[str, Any] = {"run": str(loaded.run_dir), "step": loaded.step, "data": data.description}
    for name in registry.names("metric"):
        if only is not None and name not in only:
            continue
        entry = registry.get("metric", name)
        with blame(entry.plugin, f"metric {name!r}"):
            metric: Metric = entry.build(entry.options())
            if metric.applies(run):
                results[name] = metric.compute(run)
                value = metric.headline(results[name])
                if value is not None:  # one number per metric, so tables can show any metric (third-party ones too)
                    results.setdefault("headlines", {})[name] = {"value": float(value),
                                                                 "higher_is_better": metric.higher_is_better}
            else:
                results.setdefault("not_applicable", {})[name] = metric.requires or "does not apply to this run"
    return results
