"""What a run leaves on disk: checkpoints (safetensors + JSON, ``checkpoint.py``), the run directory and its
lock (``directory.py``), a trained run loaded back (``loaded.py``) and the standalone generator export
(``export.py``)."""
