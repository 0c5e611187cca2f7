"""Self-checks: immediate, specific feedback inside the learner's notebook.

A convenience only: grades never come from anything computed in the learner's kernel.
Every check prints one line and never raises, so a notebook always runs to the end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

NOT_DONE = "not done yet"


class NotDone(Exception):
    """The exercise still holds its stub."""


Status = Literal["pass", "fail", "todo"]


@dataclass(frozen=True)
class Verdict:
    """A self-check's outcome. Already printed as one line, so a notebook cell displays nothing more."""

    status: Status
    exercise: str
    message: str

    @property
    def passed(self) -> bool:
        """True when the exercise is done and right."""
        return self.status == "pass"

    def line(self) -> str:
        """The verdict line the learner reads."""
        symbol = {"pass": "✅", "todo": "⏳", "fail": "❌"}[self.status]
        return f"{symbol} {self.exercise}: {self.message}"

    def _ipython_display_(self) -> None:
        """Show nothing: the verdict line was printed when the check ran."""


def _verdict(status: Status, exercise: str, message: str) -> Verdict:
    verdict = Verdict(status, exercise, message)
    print(verdict.line())
    return verdict


def self_check(exercise: str) -> Callable[[Callable[..., str]], Callable[..., Verdict]]:
    """Decorate a check that returns a success message, raises NotDone or AssertionError.

    The wrapped check prints its verdict line and returns the ``Verdict`` (which a notebook does not echo).
    """

    def decorate(check: Callable[..., str]) -> Callable[..., Verdict]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> Verdict:
            try:
                message = check(*args, **kwargs)
            except NotDone as todo:
                return _verdict("todo", exercise, f"{NOT_DONE} — {todo}")
            except AssertionError as problem:
                return _verdict("fail", exercise, str(problem))
            except Exception as error:  # the learner's code raised: say so, don't crash
                return _verdict("fail", exercise, f"your code raised {type(error).__name__}: {error}")
            return _verdict("pass", exercise, message)

        return run

    return decorate
