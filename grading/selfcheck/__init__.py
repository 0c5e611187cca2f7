"""Self-checks: immediate, specific feedback inside the learner's notebook.

A convenience only: grades never come from anything computed in the learner's kernel.
Every check prints one line and never raises, so a notebook always runs to the end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

NOT_DONE = "not done yet"


class NotDone(Exception):
    """The exercise still holds its stub."""


def _print(status: str, exercise: str, message: str) -> None:
    symbol = {"pass": "✅", "todo": "⏳", "fail": "❌"}[status]
    print(f"{symbol} {exercise}: {message}")


def self_check(exercise: str) -> Callable[[Callable[..., str]], Callable[..., bool | None]]:
    """Decorate a check that returns a success message, raises NotDone or AssertionError.

    The wrapped check prints the outcome and returns True (pass), False (fail) or None (not done).
    """

    def decorate(check: Callable[..., str]) -> Callable[..., bool | None]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> bool | None:
            try:
                message = check(*args, **kwargs)
            except NotDone as todo:
                _print("todo", exercise, f"{NOT_DONE} — {todo}")
                return None
            except AssertionError as problem:
                _print("fail", exercise, str(problem))
                return False
            except Exception as error:  # the learner's code raised: say so, don't crash
                _print("fail", exercise, f"your code raised {type(error).__name__}: {error}")
                return False
            _print("pass", exercise, message)
            return True

        return run

    return decorate
