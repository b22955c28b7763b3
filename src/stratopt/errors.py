"""Exceptions of stratopt.

`UserInputError` and its subclasses mean the user gave us something we cannot use
(a study file, a data file, a command-line value). The CLI prints their message
and exits with code 2. Any other exception is a bug in stratopt.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "InfeasibleError",
    "Interrupted",
    "StrategyError",
    "StratoptError",
    "UserInputError",
]


class StratoptError(Exception):
    """Base class of every error stratopt raises on purpose."""


class UserInputError(StratoptError):
    """Bad input from the user; the message names the field or row and the value."""


class ConfigError(UserInputError, ValueError):
    """A study file or an option is invalid.

    Also a `ValueError`, so a rule that raises it inside a pydantic validator (the engine's
    `ExecSettings` rules, read as the study file's `backtest:`) becomes a field error.
    """


class DataError(UserInputError):
    """A market-data file is missing, unreadable or fails validation."""


class StrategyError(UserInputError):
    """A strategy cannot be found, loaded or given the parameters asked for."""


class InfeasibleError(StrategyError):
    """A strategy's `validate` refused a candidate's parameters: the candidate is
    infeasible (pruned like a broken constraint), not failed, and never retried."""


class Interrupted(BaseException):
    """The process was asked to stop (SIGTERM, SIGINT) while a worker or `launch` ran.

    A BaseException, like KeyboardInterrupt: nothing that catches `Exception` holds it
    up, and the code that claimed shared state (a worker's trials) gives it back on the
    way out. The CLI exits with `exit_code` (128 + the signal: 143, 130).
    """

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum = signum
        self.name = name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
