"""Training: one iteration of the algorithm (``step.py``), the run's trainable state with its save and
restore (``state.py``), the loop around it (``loop.py``: logging, samples, checkpoints, signals), the
``ganforge run`` process launch (``launch.py``), data-parallel helpers (``distributed.py``), pre-flight checks
(``preflight.py``) and progress display (``progress.py``)."""
