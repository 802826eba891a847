"""How hepwb words a wrong name in its one-line errors: the closest known name, and the known ones.

Used wherever a user types a name that must exist: a branch or field (``hepwb.data``), a notebook
parameter (``hepwb.run.parameters``), a model (``hepwb.models.taggers``).
"""

from __future__ import annotations

import difflib


def did_you_mean(name: str, known) -> str:
    """`` (did you mean 'epochs'?)`` for the closest of ``known`` (difflib's ratio >= 0.6), else ""."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def listing(known, limit: int = 40) -> str:
    """The known names in their own order, comma-separated; beyond ``limit`` the count of the rest."""
    names = [str(k) for k in known]
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"
