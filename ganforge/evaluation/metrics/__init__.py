"""Pure metric math on numpy arrays (torch tensors are accepted and converted).

No training code and no plugin imports: evaluation plugins compute features / codes and call these.

* :mod:`ganforge.evaluation.metrics.clustering`: confusion matrix, Hungarian-matched clustering accuracy.
* :mod:`ganforge.evaluation.metrics.frechet`: feature statistics, Fréchet distance (FID), classifier score (IS) and its
  two entropies.
* :mod:`ganforge.evaluation.metrics.kernel`: KID (torchmetrics, the one module here that imports torch, lazily).
* :mod:`ganforge.evaluation.metrics.manifold`: k-NN precision and recall, density and coverage.
* :mod:`ganforge.evaluation.metrics.disentanglement`: discretisation, plug-in mutual information, MIG,
  FactorVAE score, informativeness.
"""

from ganforge.evaluation.metrics.clustering import confusion_matrix, hungarian_accuracy
from ganforge.evaluation.metrics.disentanglement import (
    best_factor_per_code,
    discretize,
    factor_entropies,
    factor_vae_score,
    fixed_factor_sampler,
    informativeness,
    mig,
    mutual_information_matrix,
)
from ganforge.evaluation.metrics.frechet import classifier_score, feature_statistics, frechet_distance, score_entropies
from ganforge.evaluation.metrics.kernel import kernel_distance
from ganforge.evaluation.metrics.manifold import density_coverage, knn_radii, precision_recall

__all__ = [
    "best_factor_per_code",
    "classifier_score",
    "confusion_matrix",
    "density_coverage",
    "discretize",
    "factor_entropies",
    "factor_vae_score",
    "feature_statistics",
    "fixed_factor_sampler",
    "frechet_distance",
    "hungarian_accuracy",
    "informativeness",
    "kernel_distance",
    "knn_radii",
    "mig",
    "mutual_information_matrix",
    "precision_recall",
    "score_entropies",
]
