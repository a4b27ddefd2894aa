"""Evaluating a trained run: the run being evaluated and the metric loop (``run.py``), the domain evaluator
network (``evaluator.py``), the built-in sample-quality and factor metrics (``sample_quality.py``,
``sample_fidelity.py``, ``factor_metrics.py``) and the numerical metric functions they share (``metrics/``)."""
