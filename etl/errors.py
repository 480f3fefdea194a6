"""The exception tree: each message says what failed, on which input, what to do."""


class ImagetrailError(Exception):
    """Base of every error the CLI turns into one ``Error: ...`` line."""

    exit_code = 1


class ConfigError(ImagetrailError):
    """The configuration file or a command-line argument is wrong."""

    exit_code = 2


class InputError(ImagetrailError):
    """An input file (export, log, scan) cannot be read; names the file."""


class SourceError(ImagetrailError):
    """An upstream system failed for one scope; that scope keeps its last good data."""


class LockedError(ImagetrailError):
    """Another run holds the warehouse lock."""
