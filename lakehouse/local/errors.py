"""Errors of the local runtime; each message says what to do next."""


class InfraError(RuntimeError):
    """A local component could not be prepared, started or reached."""
