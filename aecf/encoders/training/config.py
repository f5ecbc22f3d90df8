"""The recipe of each stage of `python -m aecf encoders train`; the defaults are what the shipped encoders
were trained with (a test reads the shipped encoders.json back with `TrainConfig.from_record`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from aecf.encoders.audio import AudioNetConfig
from aecf.encoders.clip import DIGITS_MODEL
from aecf.encoders.removed import strip_removed


@dataclass
class ClipTrainConfig:
    model: str = DIGITS_MODEL  # a config in model_configs/ (aecf-digits-resnet, aecf-digits-vit)
    epochs: float = 1.5  # the ResNet tower reaches 0.988 MNIST-val zero-shot in 1.5 epochs
    batch_size: int = 256
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    # caption levels drawn for a training image: exact, partial (a set holding its digit), none
    caption_mix: tuple[float, float, float] = (0.7, 0.2, 0.1)
    class_loss_weight: float = 0.5
    augment_prob: float = 0.85
    val_size: int = 2000
    evals: int = 6  # validation points over the run (best one kept)


@dataclass
class AudioTrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-3
    warmup_steps: int = 30
    label_smoothing: float = 0.05
    spec_augment: float = 0.5  # probability of a frequency mask and (independently) a time mask
    evals: int = 6
    # the reverberation of `augment.augment_audio`: share of clips, tail/direct energy, length (seconds)
    p_reverb: float = 0.45
    reverb_wet: tuple[float, float] = (0.2, 1.6)
    reverb_s: float = 0.5
    # renderings of each digit by every installed MBROLA / Pico / RHVoice voice (speech.training_extra_voices):
    # engines the benchmark and the held-out sets never use (RHVoice: never one of their speakers)
    extra_mbrola: int = 12
    extra_pico: int = 40
    extra_rhvoice: int = 12
    # not training: the speeds an embedding is averaged over at test time (Encoders.audio_speeds), written
    # into encoders.json; chosen on the held-out val halves
    test_speeds: tuple[float, ...] = (0.9, 1.0, 1.1)


@dataclass
class ImageFinetuneConfig:
    """Stage 3: the image tower alone, against the frozen class prompts (text and audio untouched)."""

    steps: int = 150  # 0: skip the stage
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.05
    ones_prob: float = 0.5  # share of 1s given a flag/base (augment.ones_with_flag_and_base)
    val_size: int = 2000
    # share of each batch drawn from typeset digits of the training fonts (aecf.encoders.fonts; families
    # disjoint from the held-out sets'), `font_variants` renderings of each digit per font
    font_share: float = 0.25
    font_variants: int = 2


@dataclass
class TrainConfig:
    seed: int = 0
    threads: int = 2
    device: str = "cpu"
    clip: ClipTrainConfig = field(default_factory=ClipTrainConfig)
    audio: AudioTrainConfig = field(default_factory=AudioTrainConfig)
    audio_net: AudioNetConfig = field(default_factory=AudioNetConfig)
    image: ImageFinetuneConfig = field(default_factory=ImageFinetuneConfig)

    @classmethod
    def from_record(cls, encoders_json: dict) -> TrainConfig:
        """The configuration an encoders.json says its towers were trained with ("training" -> each stage's
        "config", "audio" -> "net"), in this code's terms. Raises CheckpointError where it names an option
        this code no longer has switched on, or a setting it does not know (`aecf.encoders.removed`)."""
        t = encoders_json["training"]
        return cls(
            seed=int(t["seed"]),
            threads=int(t["threads"]),
            device=str(t["device"]),
            clip=_stage(ClipTrainConfig, "training.clip", t["clip"]["config"]),
            audio=_stage(AudioTrainConfig, "training.audio", t["audio"]["config"]),
            audio_net=AudioNetConfig.from_dict(encoders_json["audio"]["net"]),
            image=_stage(ImageFinetuneConfig, "training.image", t["image"]["config"]),
        )


def _stage(kind: type, section: str, recorded: dict):
    """A stage's config from its JSON record (lists back to the tuples the dataclass holds)."""
    values = strip_removed(section, recorded, {f.name for f in fields(kind)})
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def apply_override(cfg: TrainConfig, item: str) -> None:
    """`section.field=value` -> set it on cfg, parsed to the field's current type."""
    key, _, value = item.partition("=")
    section, _, name = key.partition(".")
    target = getattr(cfg, section, None)
    if target is None or not hasattr(target, name):
        raise SystemExit(f"unknown config field {key!r}")
    old = getattr(target, name)
    if isinstance(old, tuple):
        new = tuple(type(old[0])(v) for v in value.split(","))
    elif isinstance(old, bool):
        new = value.lower() in ("1", "true", "yes")
    else:
        new = type(old)(value)
    if section == "audio_net":  # frozen dataclass
        cfg.audio_net = replace(cfg.audio_net, **{name: new})
    else:
        setattr(target, name, new)
