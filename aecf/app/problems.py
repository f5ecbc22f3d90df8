"""Turn anything a model call can raise into a message for a person, never a traceback.

InputError / CheckpointError carry messages written for the user and are shown as they are; any
other exception becomes a friendly sentence (the technical detail goes to the server log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aecf.errors import CheckpointError, InputError

log = logging.getLogger("aecf.app")


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning" | "info"
    message: str


def describe(error: BaseException, what: str = "This step") -> Problem:
    if isinstance(error, InputError):
        return Problem("error", str(error))
    if isinstance(error, CheckpointError):
        return Problem("error", f"Checkpoint problem: {error}")
    if isinstance(error, MemoryError):
        return Problem("error", f"{what} ran out of memory. Try a smaller input.")
    log.exception("unexpected error in %s", what, exc_info=error)
    return Problem(
        "error",
        f"{what} failed unexpectedly ({type(error).__name__}). The app keeps working: change the input "
        "or the settings and try again. Details are in the server log.",
    )
