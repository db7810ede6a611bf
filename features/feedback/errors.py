"""The feedback service's errors (`features.feedback.service` re-exports them).

`NotFound` (no such report), `Forbidden` (not allowed: the dashboard answers 404, as for a missing report),
`NotPermitted` (may see, may not act: 403), `InvalidTransition` (e.g. resolving a closed report: 409/flash
message), `InvalidInput` (bad reason, unknown agency...). All subclass `FeedbackError`.
"""
from __future__ import annotations


class FeedbackError(Exception):
    """Base class; `str(exc)` is a short English reason for logs, never shown to citizens."""


class NotFound(FeedbackError):
    pass


class Forbidden(FeedbackError):
    pass


class NotPermitted(Forbidden):
    """The official may see the report but not perform this action (the dashboard answers 403). A plain
    `Forbidden` means the report is outside their scope and is answered exactly like `NotFound`."""


class InvalidTransition(FeedbackError):
    pass


class InvalidInput(FeedbackError):
    pass
