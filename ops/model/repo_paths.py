"""The repository's folders, wherever a tool is run from: the shell scripts' NFC_ROOT and NFC_LOCAL, for Python's
defaults (relative to the current folder, a tool run from elsewhere wrote into that folder's .local/)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def local(*parts):
    """A path under the working folder (NFC_LOCAL, else the repository's .local)."""
    # A relative NFC_LOCAL is the repository's, as the shell scripts read it from the repository root.
    return os.path.join(os.path.realpath(os.path.join(ROOT, os.environ.get("NFC_LOCAL") or ".local")), *parts)


def in_repo(*parts):
    return os.path.join(ROOT, *parts)
