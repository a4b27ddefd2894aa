"""``python -m ganforge`` (and ``torchrun -m ganforge``) runs the CLI."""

from ganforge.cli.app import main

main()
