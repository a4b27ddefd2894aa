"""The ``ganforge`` command line: the typer app and its commands (``app.py``), shared option parsing
(``options.py``), ``ganforge plugins``' table (``plugin_list.py``), ``ganforge new-plugin`` (``scaffold.py``) and
the generated reference pages (``docgen.py``)."""
