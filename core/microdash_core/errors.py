"""Domain errors. Each edge (HTTP, CLI, RQ, kopf) translates them into its own terms."""


class MicrodashError(Exception):
    """Base of every domain error."""


class NotFound(MicrodashError):
    pass


class AlreadyExists(MicrodashError):
    pass


class InvalidInput(MicrodashError):
    pass


class PoisonBatch(MicrodashError):
    """A queued batch that can never be stored; retrying it would not help."""
