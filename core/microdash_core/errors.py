"""Domain errors. Each edge (HTTP, CLI, RQ, kopf) translates them into its own terms."""


class MicrodashError(Exception):
    """Base of every domain error."""


class NotFound(MicrodashError):
    pass


class AlreadyExists(MicrodashError):
    pass


class InvalidInput(MicrodashError):
    """`field` names the input at fault when there is one (e.g. "window_seconds")."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class PoisonBatch(MicrodashError):
    """A queued batch that can never be stored; retrying it would not help."""
