"""`python -m stratopt.cli`: what `launch` starts its workers with."""

from __future__ import annotations

from stratopt.cli import main

if __name__ == "__main__":  # spawned workers import this module again
    main()
