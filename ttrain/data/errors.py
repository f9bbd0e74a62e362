"""The one error type for bad data: a missing, damaged or malformed file, or an inconsistent dataset."""


class DataError(ValueError):
    """A user's data cannot be read or used; the message names the file (or dataset) and the problem."""
