"""Error categories (SPEC §4) and the exceptions that carry them.

Errors are values with a category: code raises the specific `NodeError`, the scheduler
records `as_dict()` on the node, and the API layer turns it into JSON once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorCategory(StrEnum):
    TEMPLATE_ERROR = "TEMPLATE_ERROR"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    CONNECTION_ERROR = "CONNECTION_ERROR"
    AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
    TIMEOUT_ERROR = "TIMEOUT_ERROR"
    RATE_LIMIT_ERROR = "RATE_LIMIT_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    HTTP_ERROR = "HTTP_ERROR"
    PARSE_ERROR = "PARSE_ERROR"
    CODE_ERROR = "CODE_ERROR"
    LOOP_LIMIT = "LOOP_LIMIT"
    CANCELLED = "CANCELLED"
    INTEGRATION_ERROR = "INTEGRATION_ERROR"


RETRYABLE_CATEGORIES = frozenset(
    {
        ErrorCategory.CONNECTION_ERROR,
        ErrorCategory.TIMEOUT_ERROR,
        ErrorCategory.RATE_LIMIT_ERROR,
        ErrorCategory.SERVICE_UNAVAILABLE,
    }
)


class NodeError(Exception):
    """A node failed with a SPEC error category.

    `retry_after_s` carries an HTTP `Retry-After` hint; `retryable` defaults to the SPEC
    rule (retryable categories, or an HTTP status of 5xx / 429 in `details["status"]`).
    """

    def __init__(
        self,
        category: ErrorCategory | str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        retry_after_s: float | None = None,
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.category = ErrorCategory(category)
        self.message = message
        self.details = details or {}
        self.retry_after_s = retry_after_s
        if retryable is None:
            status = self.details.get("status")
            retryable = self.category in RETRYABLE_CATEGORIES or (
                isinstance(status, int) and (status >= 500 or status == 429)
            )
        self.retryable = retryable

    def as_dict(self) -> dict[str, Any]:
        return {"category": str(self.category), "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"NodeError({self.category!s}, {self.message!r})"


class TemplateError(NodeError):
    """A template failed to evaluate (missing path, unsafe name, bad value)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(ErrorCategory.TEMPLATE_ERROR, message, details, retryable=False)


class TemplateSyntaxError(ValueError):
    """A template cannot be parsed; raised at validation time, never at run time."""


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in a workflow document (SPEC §2 error list entry)."""

    message: str
    node: str | None = None
    edge: int | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "edge": self.edge, "field": self.field, "message": self.message}


class WorkflowInvalid(Exception):
    """A document was refused as a whole; `issues` lists every problem found."""

    def __init__(self, issues: list[ValidationIssue]):
        super().__init__(f"{len(issues)} validation error(s)")
        self.issues = issues
