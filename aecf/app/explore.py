"""The Explore page's pipeline for one example, without Streamlit.

    raw input (upload / canvas / recording / sample) -> preprocessing (aecf.encoders) -> on-purpose
    corruption (aecf.data.corruption, same functions as the benchmark) -> Model.predict -> diagnostics

Everything that can fail on a person's input raises aecf.errors.InputError with a message for them.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aecf import app_paths
from aecf.constants import MODALITIES, SAMPLE_RATE
from aecf.errors import InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg")
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")
MAX_CAPTION_CHARS = 1000  # longer captions are cut (the text tower reads far fewer tokens anyway)


# ------------------------------------------------------------------------------------ samples


def list_samples(kind: str, samples_dir: str | Path | None = None) -> list[str]:
    """File names of the demo samples of one kind ('image' or 'audio'), sorted."""
    exts = IMAGE_EXTS if kind == "image" else AUDIO_EXTS
    root = Path(samples_dir) if samples_dir else app_paths.samples_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.suffix.lower() in exts and p.is_file())


def sample_path(name: str, samples_dir: str | Path | None = None) -> Path:
    """Path of a sample by file name; refuses anything that is not a plain name inside samples_dir."""
    root = Path(samples_dir) if samples_dir else app_paths.samples_dir()
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
    path = (Path(samples_dir) if samples_dir else app_paths.samples_dir()) / "captions.txt"
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
    """An image and a recording of the same digit (MNIST-style image first), else the first of each."""
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
    from aecf.constants import CLASSES

    for ex in examples:
        if ex.level == "exact" and ex.digit == digit:
            return ex.text
    return f"a handwritten {CLASSES[digit]}" if digit is not None else "a handwritten digit"


# ------------------------------------------------------------------------------------ inputs


def content_key(data) -> str:
    """Stable short hash of bytes / an array (the cache key of an input)."""
    h = hashlib.blake2b(digest_size=12)
    if isinstance(data, np.ndarray):
        h.update(str(data.shape).encode() + str(data.dtype).encode())
        h.update(np.ascontiguousarray(data).tobytes())
    elif isinstance(data, str):
        h.update(data.encode("utf-8"))
    else:
        h.update(bytes(data))
    return h.hexdigest()


def canvas_image(rgba: np.ndarray | None) -> np.ndarray | None:
    """The canvas drawing as a grayscale uint8 image (white ink on black), or None if nothing is drawn."""
    if rgba is None:
        return None
    a = np.asarray(rgba)
    if a.ndim != 3 or a.shape[-1] < 3:
        return None
    gray = a[..., :3].astype(np.float32).mean(axis=-1)
    if a.shape[-1] == 4:
        gray = gray * (a[..., 3].astype(np.float32) / 255.0)
    if float(gray.max(initial=0.0)) < 32.0:
        return None
    return np.clip(gray, 0, 255).astype(np.uint8)


def image_corruption_text(severity: float) -> str:
    """What the image slider does at this severity, in words (the benchmark's corruption, aecf.data.corruption)."""
    from aecf.data.corruption import MAX_ENERGY_REMOVED, MAX_NOISE_STD, MAX_OCCLUSION_SIDE, OCCLUSION_PROB

    if severity <= 0:
        return "severity 0: the image as given."
    return (f"severity {severity:.2f}: {100 * MAX_ENERGY_REMOVED * severity:.0f} % of MNIST's PCA energy removed, "
            f"noise σ = {MAX_NOISE_STD * severity:.2f}, a {round(MAX_OCCLUSION_SIDE * severity)} px block hidden "
            f"with probability {OCCLUSION_PROB * severity:.0%}.")


def audio_corruption_text(snr_db: float | None) -> str:
    from aecf.data.corruption import audio_severity

    if snr_db is None:
        return "no noise added: the recording as given."
    return f"noise at {snr_db:+.0f} dB SNR (audio severity {float(audio_severity(snr_db)):.2f}): white, pink and babble mixed."


def prepare_image(raw, severity: float = 0.0, seed: int = 0) -> np.ndarray:
    """Any image -> the MNIST-style float32 [28, 28] the encoder reads, with the benchmark's corruption
    (PCA-energy removal, occlusion, noise; aecf.data.corruption.corrupt_image) at `severity`."""
    from aecf.encoders.preprocess import preprocess_image

    image = preprocess_image(raw)
    return corrupt_image28(image, severity, seed)


def corrupt_image28(image: np.ndarray, severity: float, seed: int) -> np.ndarray:
    if severity <= 0:
        return np.asarray(image, dtype=np.float32)
    from aecf.data.corruption import corrupt_image

    as_uint8 = np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    return corrupt_image(as_uint8, severity, seed).astype(np.float32) / 255.0


def prepare_audio(raw, snr_db: float | None = None, seed: int = 0) -> np.ndarray:
    """Any recording -> clean mono 16 kHz (silence trimmed), plus noise at `snr_db` (None = no noise)."""
    from aecf.encoders.preprocess import preprocess_audio

    wave = preprocess_audio(raw)
    return add_noise(wave, snr_db, seed)


def add_noise(wave: np.ndarray, snr_db: float | None, seed: int) -> np.ndarray:
    if snr_db is None:
        return wave
    from aecf.data.corruption import corrupt_audio

    return corrupt_audio(wave, float(snr_db), seed)


def prepare_caption(text: str | None) -> str:
    from aecf.encoders.preprocess import preprocess_caption

    if text is None:
        raise InputError("The caption is empty. Type a few words describing the digit.")
    return preprocess_caption(text[:MAX_CAPTION_CHARS])


def upscale(image_28: np.ndarray, factor: int = 6) -> np.ndarray:
    """[28, 28] float in [0, 1] -> uint8 [28·f, 28·f], nearest neighbour (crisp pixels on screen)."""
    img = np.clip(np.asarray(image_28, dtype=np.float32), 0, 1)
    return (np.kron(img, np.ones((factor, factor), np.float32)) * 255).astype(np.uint8)


def logmel_image(logmel: np.ndarray, height: int = 160) -> np.ndarray:
    """[n_mels, T] log-mel -> uint8 RGB image (low frequencies at the bottom, magma-like colours)."""
    mel = np.asarray(logmel, dtype=np.float32)[::-1]
    lo, hi = float(np.percentile(mel, 1)), float(np.percentile(mel, 99))
    x = np.clip((mel - lo) / max(hi - lo, 1e-6), 0, 1)
    # a 4-stop magma-like ramp: black -> purple -> orange -> light yellow
    stops = np.array([[0, 0, 4], [120, 28, 109], [237, 105, 37], [252, 253, 191]], np.float32)
    pos = x * (len(stops) - 1)
    i = np.clip(pos.astype(int), 0, len(stops) - 2)
    frac = (pos - i)[..., None]
    rgb = stops[i] * (1 - frac) + stops[i + 1] * frac
    reps = max(1, height // mel.shape[0])
    return np.repeat(np.repeat(rgb, reps, axis=0), 3, axis=1).astype(np.uint8)


def wav_bytes(wave: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """Float wave -> 16-bit WAV bytes (to play back what the model hears)."""
    import soundfile as sf

    buf = io.BytesIO()
    peak = float(np.max(np.abs(wave), initial=0.0))
    sf.write(buf, np.asarray(wave / max(1.0, peak), dtype=np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ------------------------------------------------------------------------------------ result views


@dataclass
class ExampleInputs:
    """What goes into the model for one example (None = modality off or not given)."""

    image: np.ndarray | None = None  # float32 [28, 28], preprocessed and corrupted
    caption: str | None = None
    audio: np.ndarray | None = None  # float32 mono 16 kHz, preprocessed and corrupted
    problems: list = field(default_factory=list)  # aecf.app_guard.Problem per input that failed

    @property
    def present(self) -> tuple[str, ...]:
        given = {"image": self.image is not None, "caption": self.caption is not None, "audio": self.audio is not None}
        return tuple(m for m in MODALITIES if given[m])


def mc_confidence_spread(mc_probs: np.ndarray, label: int) -> dict:
    """Per-pass probability of the predicted class: mean, std, min, max over the K passes."""
    mc = np.asarray(mc_probs, dtype=float)
    if mc.ndim != 2 or mc.shape[0] == 0:
        return {"k": 0, "mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan"),
                "agree": float("nan")}
    per = mc[:, label]
    return {
        "k": int(mc.shape[0]),
        "mean": float(per.mean()),
        "std": float(per.std()),
        "min": float(per.min()),
        "max": float(per.max()),
        "agree": float((mc.argmax(axis=1) == label).mean()),  # share of passes voting for the label
    }


def top_classes(probs: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    p = np.asarray(probs, dtype=float)
    order = np.argsort(-p)[:k]
    return [(int(i), float(p[i])) for i in order]


def gate_dict(gate) -> dict[str, float]:
    """Prediction.gate as {modality: weight} with every modality (absent -> 0); {} if no gate."""
    if gate is None:
        return {}
    if isinstance(gate, dict):
        return {m: float(gate.get(m, 0.0) or 0.0) for m in MODALITIES}
    g = np.asarray(gate, dtype=float).reshape(-1)
    return {m: float(g[i]) for i, m in enumerate(MODALITIES[: len(g)])}


# ------------------------------------------------------------------------------------ the model call

_MODEL_LOCK = threading.Lock()  # Model keeps an embedding LRU and torch's RNG is global: one call at a time


def embed_checked(model, modality: str, raw, image_severity: float = 0.0, audio_snr: float | None = None,
                  seed: int = 0) -> dict:
    """Preprocess + encode one modality (cached inside the model); raises InputError on a bad input.
    Run per modality first so that one bad input is reported where it was given, and the others still work."""
    with _MODEL_LOCK:
        if modality == "image":
            return model.embed_image(raw, image_severity, seed)
        if modality == "caption":
            return model.embed_caption(raw if raw is None else raw[:MAX_CAPTION_CHARS])
        return model.embed_audio(raw, audio_snr, seed)


def predict(model, image=None, caption: str | None = None, audio=None, mc_samples: int = 20,
            image_severity: float = 0.0, audio_snr: float | None = None, seed: int = 0):
    """Model.predict with the view's corruption settings; deterministic MC passes for a given view."""
    import torch

    if image is None and caption is None and audio is None:
        raise InputError("Every modality is off (or has no input). Switch on at least one of image, caption, audio.")
    if caption is not None:
        caption = caption[:MAX_CAPTION_CHARS]
    with _MODEL_LOCK:
        torch.manual_seed(seed)  # the K MC-dropout passes: same view, same numbers (shareable links)
        return model.predict(image=image, caption=caption, audio=audio, mc_samples=max(2, int(mc_samples)),
                             image_corruption=float(image_severity), audio_snr_db=audio_snr, seed=int(seed))


def predict_embeddings(model, embeddings: dict, mc_samples: int = 20, seed: int = 0):
    """The same example's embeddings through another fusion checkpoint (a baseline)."""
    import torch

    with _MODEL_LOCK:
        torch.manual_seed(seed)
        return model.predict_embeddings(embeddings, max(2, int(mc_samples)))
