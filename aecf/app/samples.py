"""The demo inputs shipped in assets/samples/: images, recordings and example captions, and which go together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aecf import paths
from aecf.app.state import DEFAULT_AUDIO_SAMPLE, DEFAULT_IMAGE_SAMPLE
from aecf.constants import CLASSES
from aecf.errors import InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg")
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")


def list_samples(kind: str, samples_dir: str | Path | None = None) -> list[str]:
    """File names of the demo samples of one kind ('image' or 'audio'), sorted."""
    exts = IMAGE_EXTS if kind == "image" else AUDIO_EXTS
    root = Path(samples_dir) if samples_dir else paths.samples_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.suffix.lower() in exts and p.is_file())


def sample_path(name: str, samples_dir: str | Path | None = None) -> Path:
    """Path of a sample by file name; refuses anything that is not a plain name inside samples_dir."""
    root = Path(samples_dir) if samples_dir else paths.samples_dir()
    if not name or Path(name).name != name or name.startswith("."):
        raise InputError(f"{name!r} is not a sample name.")
    path = root / name
    if not path.is_file():
        raise InputError(f"Sample {name!r} not found in {root.name}/.")
    return path


@dataclass(frozen=True)
class CaptionExample:
    level: str  # exact | partial | none | wrong
    text: str
    digit: int | None  # the digit of the image it would go with


def caption_examples(samples_dir: str | Path | None = None) -> list[CaptionExample]:
    """captions.txt: '# comment' lines, then 'level<TAB>caption<TAB>digit' lines (a bare caption is 'exact')."""
    path = (Path(samples_dir) if samples_dir else paths.samples_dir()) / "captions.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) >= 2 and parts[1]:
            digit = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
            out.append(CaptionExample(parts[0] or "exact", parts[1], digit))
        else:
            out.append(CaptionExample("exact", parts[0], None))
    return out


def sample_digit(name: str) -> int | None:
    """The digit a sample file is of, from its name ('mnist_7.png', 'spoken_3_espeak.wav' -> 7, 3)."""
    for token in Path(name).stem.split("_"):
        if len(token) == 1 and token.isdigit():
            return int(token)
    return None


def default_samples(images: list[str], audios: list[str]) -> tuple[str | None, str | None]:
    """The default example (aecf.app.state's DEFAULT_IMAGE_SAMPLE and DEFAULT_AUDIO_SAMPLE) when both are there;
    else an image and a recording of the same digit (MNIST-style image first); else the first of each."""
    if DEFAULT_IMAGE_SAMPLE in images and DEFAULT_AUDIO_SAMPLE in audios:
        return DEFAULT_IMAGE_SAMPLE, DEFAULT_AUDIO_SAMPLE
    by_digit_aud: dict[int, str] = {}
    for name in sorted(audios, key=lambda n: ("noisy" in n, n)):
        d = sample_digit(name)
        if d is not None:
            by_digit_aud.setdefault(d, name)
    for name in sorted(images, key=lambda n: (not n.startswith("mnist"), n)):
        d = sample_digit(name)
        if d is not None and d in by_digit_aud:
            return name, by_digit_aud[d]
    return (images[0] if images else None), (audios[0] if audios else None)


def default_caption(digit: int | None, examples: list[CaptionExample]) -> str:
    """An exact caption for the digit: from captions.txt if it has one, else 'a handwritten <digit>'."""
    for ex in examples:
        if ex.level == "exact" and ex.digit == digit:
            return ex.text
    return f"a handwritten {CLASSES[digit]}" if digit is not None else "a handwritten digit"
