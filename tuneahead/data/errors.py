"""The error of bad run data."""

__all__ = ["RunTableError"]


class RunTableError(ValueError):
    """Bad input for a RunTable: the message names the run, the field and the fix."""
