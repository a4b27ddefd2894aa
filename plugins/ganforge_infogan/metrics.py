"""InfoGAN's metrics: how well each code is read back, on real images (code accuracy) and on generated ones (L_I).

Both read the posterior heads of the run's regularizers (Q) through :class:`ganforge.EvalRun`, and
return typed :class:`ganforge.MetricResult`s, so ``eval``, ``compare`` and the reports show them like
any other metric.
"""

from __future__ import annotations

from typing import Any

import torch

from ganforge import EvalRun, Headline, Metric, MetricResult, ResultTable, hungarian_accuracy


class CodeAccuracy(Metric):
    """Unsupervised accuracy of each discrete code: argmax of Q on real images, Hungarian-matched to labels."""

    name = "code_accuracy"
    requires = "needs labelled data and a Q head with a discrete code"
    over_checkpoints = True  # one pass of Q over the data: cheap enough for every kept checkpoint

    def applies(self, run: EvalRun) -> bool:
        return run.data.labels is not None and any(
            f.discrete and f.name in run.real_posterior for f in run.spec.factors)

    def compute(self, run: EvalRun) -> MetricResult:
        labels = run.data.labels.numpy()  # type: ignore[union-attr]
        details: dict[str, Any] = {}
        heads, tables = [], []
        for f in run.spec.factors:
            if not f.discrete or f.name not in run.real_posterior:
                continue
            pred = f.predict(run.real_posterior[f.name]).numpy()
            acc, mapping, conf = hungarian_accuracy(pred, labels, n_pred=len(f.traversal(0)),
                                                    n_labels=run.data.num_classes)
            details[f.name] = {"accuracy": acc, "mapping": mapping, "confusion": conf.tolist()}
            heads.append(Headline(f"code accuracy ({f.name})", acc, key=f.name))
            tables.append(_confusion_table(f.name, conf.tolist(), mapping))
        accuracies = [d["accuracy"] for d in details.values()]
        return MetricResult(tuple(heads), details, tuple(tables), score=sum(accuracies) / len(accuracies),
                            note="Code accuracy: argmax of Q on the real images, matched one-to-one to the labels "
                                 "(Hungarian).")


def _confusion_table(name: str, conf: list[list[int]], mapping: dict[int, int]) -> ResultTable:
    """Categories (rows) against labels (columns), the matched label's cell in bold."""
    rows, bold = [], []
    for i, row in enumerate(conf):
        label = mapping.get(i)
        rows.append((f"{i} [{label}]" if label is not None else str(i), *map(str, row)))
        if label is not None:
            bold.append((i, label + 1))
    return ResultTable(f"{name}: categories (rows) vs labels (columns); matched label in brackets",
                       ("cat", *map(str, range(len(conf[0])))), tuple(rows), tuple(bold))


class MutualInformationBound(Metric):
    """L_I = H(c) − E[−log Q(c|G(z,c))] per factor, on fresh generated samples (nats).

    ``L_I`` uses the networks in evaluation mode (batch norm with its running statistics), as sampling
    does; ``L_I_batch_statistics`` the training mode the training log uses (each batch of the recipe's
    batch size normalised by its own statistics), so the two can be told apart when they differ. H(c)
    bounds L_I from above only for a discrete code; for a continuous one L_I may exceed the prior's
    differential entropy, so only a discrete code's headline carries H(c) as its reference line.
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

    def compute(self, run: EvalRun) -> MetricResult:
        eval_mode = self._bound(run, batch=run.batch_size, seed=run.seed + 12345)
        batch_stats = self._bound(run, batch=max(2, run.loaded.resolved.recipe.data.batch_size), seed=run.seed + 54321,
                                  train_mode=True)
        heads = []
        for f in run.spec.factors:
            ceiling = {"reference": f.entropy(), "reference_label": f"ceiling H({f.name})"} if f.discrete else {}
            heads.append(Headline(f"L_I {f.name}", eval_mode[f.name], key=f.name, unit="nats", log_term=f"L_I/{f.name}",
                                  **ceiling))
            heads.append(Headline(f"L_I {f.name}, batch statistics (as the training log)", batch_stats[f.name],
                                  key=f"{f.name}/batch_statistics", unit="nats"))
        details = {"L_I": eval_mode, "L_I_total": sum(eval_mode.values()), "H": {f.name: f.entropy() for f in run.spec.factors},
                   "discrete": {f.name: bool(f.discrete) for f in run.spec.factors}, "L_I_batch_statistics": batch_stats}
        return MetricResult(tuple(heads), details, score=details["L_I_total"],
                            note="L_I is the variational lower bound H(c) − E[−log Q(c | G(z, c))] on the mutual "
                                 f"information between a code and the images, in nats, on {self.samples:,} fresh "
                                 "samples with the final Q (networks in eval mode; 'batch statistics' as in training); "
                                 "for a discrete code H(c) is its ceiling (ln 10 = 2.303 for a 10-way code), a "
                                 "continuous code has none.")

    @torch.no_grad()
    def _bound(self, run: EvalRun, batch: int, seed: int, train_mode: bool = False) -> dict[str, float]:
        """H(c) − mean NLL of Q on ``samples`` generated images, per factor. ``train_mode``: every network in
        training mode (batch norm by each batch's statistics; the running statistics restored afterwards)."""
        modules = list(run.system.modules().values())
        saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules] if train_mode else []
        if train_mode:
            for m in modules:
                m.train()
        try:
            g = torch.Generator(device=run.device).manual_seed(seed)
            nll = {f.name: 0.0 for f in run.spec.factors}
            n = 0
            while n < self.samples:
                latent = run.spec.sample(batch if train_mode else min(batch, self.samples - n), g, run.device)
                images = run.system.generator(run.spec.generator_input(latent))
                params = run.posterior(images, run.spec.condition_values(latent))
                for f in run.spec.factors:
                    if f.name in params:
                        nll[f.name] += float(f.nll(params[f.name], latent.codes[f.name]).sum())
                n += len(latent)
            return {f.name: f.entropy() - nll[f.name] / n for f in run.spec.factors}
        finally:
            if train_mode:
                for m, state in zip(modules, saved, strict=True):
                    m.load_state_dict(state)
                    m.eval()
