"""Start-up time of the light CLI commands: ``python benchmarks/startup.py``.

``ganforge --help``, ``ganforge plugins`` and ``ganforge validate RECIPE`` never need torch, so they
must answer quickly (the performance issue's target: under 0.3 s each on the development machine).
Each command runs ``--repeat`` times as a fresh process (``python -m ganforge``, i.e. without the
console-script wrapper); the script prints the median and the fastest wall time, and whether torch
was imported (checked with ``python -X importtime``, whose log names every imported module).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "--help": ["--help"],
    "plugins": ["plugins"],
    "validate": ["validate", str(ROOT / "recipes" / "infogan_mnist.toml")],
}


def timed(cmd: list[str]) -> float:
    """Wall seconds of one fresh process running ``cmd``."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def wall(args: list[str]) -> float:
    return timed([sys.executable, "-m", "ganforge", *args])


def imports_torch(args: list[str]) -> bool:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ganforge", *args], capture_output=True, text=True)
    return any(line.rstrip().endswith((" torch", "| torch")) for line in done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="fresh processes per command")
    args = parser.parse_args()
    interpreter = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(args.repeat))
    print(f"python {sys.version.split()[0]}; bare interpreter start-up: median {interpreter * 1000:.0f} ms")
    print(f"{'command':<10} {'median s':>9} {'fastest s':>9}  imports torch")
    for name, cmd in COMMANDS.items():
        times = [wall(cmd) for _ in range(args.repeat)]
        print(f"{name:<10} {statistics.median(times):>9.3f} {min(times):>9.3f}  {'yes' if imports_torch(cmd) else 'no'}")


if __name__ == "__main__":
    main()
