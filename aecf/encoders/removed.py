"""Options an older `encoders.json` may still name, which the code no longer has.

Recipes and switches that were tried and not shipped have left the code (the shipped encoders never used
them). An `encoders.json` written before they left records them with the rest of its configuration; such a
key is accepted only at the value that meant "off" (or at any value where the option did nothing on the
shipped path), so a file made with one of them switched on is refused instead of being read as something
it is not. Any other key this code does not know is refused too.
"""

from __future__ import annotations

from aecf.errors import CheckpointError

ANY = object()  # the option had no effect on the shipped path, whatever its value

REMOVED: dict[str, dict[str, object]] = {
    # the audio tower's network (encoders.json "audio" -> "net")
    "audio.net": {"cmvn": False},
    # its log-mel features ("audio" -> "mel"); the quantile only mattered with a noise floor
    "audio.mel": {"noise_floor": 0.0, "noise_quantile": ANY},
    # the audio stage's training configuration ("training" -> "audio" -> "config"); the room recipe's
    # probabilities only mattered with recipe "room"
    "training.audio": {
        "recipe": "window",
        "p_room": ANY,
        "p_noise": ANY,
        "p_window": ANY,
        "extra_flite": 0,
        "extra_espeak": 0,
        "extra_festival": 0,
        "babble_words": 0,
        "p_babble": 0.3,
        "ema": 0.0,
        "vtlp": 0.0,
        "consistency": 0.0,
    },
}


def strip_removed(section: str, values: dict, known: set[str] | frozenset[str]) -> dict:
    """`values` without the removed keys of `section` (each checked to be off). Raises CheckpointError for
    a removed option that was on, and for a key that is neither `known` nor removed."""
    removed = REMOVED.get(section, {})
    out = {}
    for key, value in values.items():
        if key in known:
            out[key] = value
        elif key in removed:
            off = removed[key]
            if off is not ANY and value != off:
                raise CheckpointError(
                    f"encoders.json {section}.{key} = {value!r}: these encoders were made with an option this "
                    f"code no longer has (only {off!r}, off, can be read). Retrain the encoders."
                )
        else:
            raise CheckpointError(f"encoders.json {section} has an unknown setting {key!r}.")
    return out
