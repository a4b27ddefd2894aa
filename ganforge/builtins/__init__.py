"""The core's own plugin: adversarial objectives and data sources.

It is registered through the ``ganforge`` entry-point group (``core = "ganforge.builtins"``)
exactly like a third-party plugin, and can be switched off the same way. Factories are named
as ``"module:attr"`` strings so that listing plugins never imports torch.
"""

from __future__ import annotations

from typing import Any

from ganforge.builtins import options as o
from ganforge.data import options as data_options
from ganforge.hookspecs import hookimpl


@hookimpl
def register_objectives(register: Any) -> None:
    register("nonsaturating", "ganforge.builtins.objectives:NonSaturating",
             help="Goodfellow's GAN loss with the non-saturating generator loss (BCE on logits).")
    register("hinge", "ganforge.builtins.objectives:Hinge", help="Hinge loss (SAGAN, BigGAN).")
    register("wasserstein", "ganforge.builtins.objectives:Wasserstein",
             help="Wasserstein critic loss (pair with the gradient_penalty regularizer: WGAN-GP).")


@hookimpl
def register_regularizers(register: Any) -> None:
    register("r1", "ganforge.builtins.regularizers:R1", o.R1Options,
             help="R1: γ/2·E‖∇ₓD(x)‖² on real images (Mescheder et al. 2018).")
    register("r2", "ganforge.builtins.regularizers:R2", o.R1Options,
             help="R2: γ/2·E‖∇D(x̃)‖² on generated images (Mescheder et al. 2018).")
    register("gradient_penalty", "ganforge.builtins.regularizers:GradientPenalty", o.GradientPenaltyOptions,
             help="WGAN-GP: λ·E[(‖∇D(x̂)‖ − 1)²] on real/fake interpolates (Gulrajani et al. 2017).")
    register("lecam", "ganforge.builtins.regularizers:LeCam", o.LeCamOptions,
             help="LeCam: λ·(E(D(x) − α_F)² + E(D(G(z)) − α_R)²) with moving anchors α (Tseng et al. 2021).")
    register("consistency", "ganforge.builtins.regularizers:Consistency", o.ConsistencyOptions,
             help="bCR: λ·E(D(x) − D(T(x)))² on real and generated images, T a random shift (Zhao et al. 2021).")


@hookimpl
def register_augmentations(register: Any) -> None:
    for name, what in (("translation", "shift by up to 1/8 of the image, zero-filled"),
                       ("cutout", "zero a random square of half the image's size"),
                       ("color", "random brightness, saturation and contrast")):
        register(name, _augmentation(name), help=f"DiffAugment (Zhao et al. 2020): {what}.")


def _augmentation(name: str) -> Any:
    def build(options: Any) -> Any:
        from ganforge.model.augmentations import BUILTIN

        return BUILTIN[name]

    return build


@hookimpl
def register_datasets(register: Any) -> None:
    register("synthetic", "ganforge.data.synthetic:load", data_options.SyntheticOptions,
             help="Random blobs made on the fly; for tests and smoke runs.")
    register("idx", "ganforge.data.idx:load", data_options.IdxOptions,
             help="Local MNIST-format idx / idx.gz image and label files.")
    for name in ("mnist", "fashion_mnist", "cifar10"):
        register(name, f"ganforge.data.torchvision_sources:load_{name}", data_options.TorchvisionOptions,
                 help=f"torchvision's {name} (downloaded on first use when download = true).")
    register("image_folder", "ganforge.data.torchvision_sources:load_image_folder", data_options.ImageFolderOptions,
             help="Your own images: one folder per class (torchvision ImageFolder), resized in memory.")
    register("shapes", "ganforge.data.shapes:load", data_options.ShapesOptions, help="Offline dSprites-style shapes with known factors.")
    register("glyphs", "ganforge.data.glyphs:load", data_options.GlyphsOptions,
             help="Offline stroke-drawn digits 0-9 with known digit, slant, width and scale.")
    register("images", "ganforge.data.torchvision_sources:load_images", data_options.FlatImagesOptions,
             help="A flat folder of your images (no class sub-folders, e.g. CelebA), labels optional.")
    register("svhn", "ganforge.data.torchvision_sources:load_svhn", data_options.SVHNOptions,
             help="torchvision's SVHN, 32×32 RGB house-number digits (downloaded on first use when download = true).")


@hookimpl
def register_metrics(register: Any) -> None:
    register("training", "ganforge.evaluation.run:TrainingSummary", help="Throughput and last losses of the run.")
    register("factor_codes", "ganforge.evaluation.factor_metrics:FactorCodes",
             help="Data with known factors: each code's most informative factor (MI) and categorical-code accuracy.")
    register("mig", "ganforge.evaluation.factor_metrics:MutualInformationGap",
             help="Data with known factors: Mutual Information Gap of Q's codes on real images (Chen et al. 2018).")
    register("factor_vae", "ganforge.evaluation.factor_metrics:FactorVAEScore",
             help="Data with known factors: FactorVAE score of Q's codes (Kim & Mnih 2018), fixed-factor images rendered.")
    register("domain_fid", "ganforge.evaluation.sample_quality:DomainFID",
             help="Fréchet distance of generated to real images in the evaluator classifier's features (domain FID).")
    register("domain_kid", "ganforge.evaluation.sample_fidelity:DomainKID",
             help="Kernel Inception Distance (unbiased MMD², cubic kernel; mean ± std over subsets) in the evaluator's "
                  "features.")
    register("precision_recall", "ganforge.evaluation.sample_fidelity:PrecisionRecall",
             help="Improved precision (fidelity) and recall (diversity) of k=3 nearest-neighbour manifolds of "
                  "evaluator features (Kynkäänniemi et al. 2019).")
    register("density_coverage", "ganforge.evaluation.sample_fidelity:DensityCoverage",
             help="Density (fidelity) and coverage (diversity) against the real images' k=5 nearest-neighbour balls "
                  "in evaluator features (Naeem et al. 2020).")
    register("inception_fid", "ganforge.evaluation.inception:InceptionFID",
             help="RGB data: FID in the 2048-d pool features of the standard (TF 2015-12-05) Inception-v3, from local "
                  "weights (torch-fidelity; the 'inception' extra).")
    register("inception_kid", "ganforge.evaluation.inception:InceptionKID",
             help="RGB data: KID (mean ± std over subsets) in the standard Inception-v3's pool features, from local "
                  "weights (torch-fidelity; the 'inception' extra).")
    register("classifier_score", "ganforge.evaluation.sample_quality:ClassifierScore",
             help="Inception-Score analogue exp(E KL(p(y|x) || p(y))) under the evaluator classifier.")
    register("label_accuracy", "ganforge.evaluation.sample_quality:LabelAccuracy",
             help="Conditional models: share of samples for class y that the evaluator classifies as y.")
    register("generated_code_accuracy", "ganforge.evaluation.sample_quality:GeneratedCodeAccuracy",
             help="Categorical codes: Hungarian accuracy of each code's value for the evaluator's class of G's samples, "
                  "and each category's domain FID to its matched class.")
    register("class_coverage", "ganforge.evaluation.sample_quality:ClassCoverage",
             help="Any generator: the share of G's samples the evaluator calls each class (KL to the real shares) "
                  "and each class's domain FID to its real images.")


@hookimpl
def track_event(event: Any) -> None:
    """The built-in loggers named in ``train.loggers`` (TensorBoard)."""
    from ganforge.builtins import tensorboard

    tensorboard.observe(event)
