"""The one domain error services raise; the API's exception handler turns it into JSON."""


class ApplicationError(Exception):
    """A refused operation with a stable `code`, an HTTP `status_code` and field `details`."""

    def __init__(self, code: str, message: str, status_code: int = 400, *, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.details = details or {}
