"""Exceptions that the command line turns into a one-line message and a non-zero exit.

Every error a user can cause (bad paths, corrupt files, unknown names, wrong shapes) is raised as a
`VidgenError` subclass whose message names the file or field and what was expected.
"""


class VidgenError(Exception):
    """Base class of errors caused by input the user can fix."""


class ConfigError(VidgenError):
    """An unknown preset, an unknown config key, or a value of the wrong type."""


class DataError(VidgenError):
    """A dataset, video or image folder that is missing, empty, corrupt or unreadable."""


class CheckpointError(VidgenError):
    """A checkpoint that is missing, truncated, or does not match its config."""


class BundleError(VidgenError):
    """A runtime bundle that is missing, corrupt, inconsistent with its manifest, or unsafe."""
