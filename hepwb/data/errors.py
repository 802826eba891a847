"""The data layer's errors: each names the file, tree or branch that was wrong and what was expected."""


class HepwbDataError(Exception):
    """Base class of the data layer's errors."""


class InvalidROOTFileError(HepwbDataError, OSError):
    """The file is missing, is not a ROOT file, or is damaged (e.g. truncated)."""


class UnknownDatasetError(HepwbDataError, KeyError):
    """A dataset name that is neither in the manifest nor a path."""

    def __str__(self):  # KeyError would print the message with quotes
        return self.args[0]


class MissingTreeError(HepwbDataError, KeyError):
    """The file has no tree of that name; the message lists the trees it has."""

    def __str__(self):
        return self.args[0]


class MissingBranchError(HepwbDataError, KeyError):
    """The tree has no branch of that name; the message names the closest one and lists the others."""

    def __str__(self):
        return self.args[0]


class OutputPathError(HepwbDataError, OSError):
    """An output folder that cannot be created or written to."""
