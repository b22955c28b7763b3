"""stratopt: find trading-strategy parameters that hold up out of sample."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
