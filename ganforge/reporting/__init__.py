"""Reporting: ``ganforge compare``'s runs (``compare.py``), its table (``table.py``) and plots (``plots.py``),
the HTML report (``html.py``), terminal output (``terminal.py``) and the names of logged terms (``logkeys.py``)."""
