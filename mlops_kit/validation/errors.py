"""The one error validation raises for bad input: a frame or rules it cannot work with."""

from __future__ import annotations


class ValidationInputError(ValueError):
    """The raw frame or the validation rules are unusable; the message says what and where.

    Bad *rows* never raise: they go to quarantine. This error is for bad *input*: something
    that is not a frame of raw orders, or rules that name unknown columns or impossible actions.
    """
