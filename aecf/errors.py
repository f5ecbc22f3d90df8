"""Errors whose message is meant for the person using the tool, not for a developer."""


class InputError(ValueError):
    """An input (file, caption, recording) cannot be used; the message says why and what to do."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or does not match the model it is loaded into."""
