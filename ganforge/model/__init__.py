"""The model a recipe builds and how it runs: the networks, latent spec, objective and regularizers
(``system.py``), the moving average of G (``ema.py``), the differentiable augmentation stage of the critic's
inputs (``augment.py``, its operations in ``augmentations.py``), pictures drawn from G (``pictures.py``) and
the device and precision it runs at (``devices.py``)."""
