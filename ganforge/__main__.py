"""``python -m ganforge`` (and ``torchrun -m ganforge``) runs the CLI."""

from ganforge.cli import main

main()
