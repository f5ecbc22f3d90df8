"""Load a fusion checkpoint with its frozen encoders and predict one example with every diagnostic.

    model = aecf.load()                                   # the shipped AECF checkpoint
    r = model.predict(image="assets/samples/seven.png", caption="an odd number", audio="clip.wav")
    r.label, r.confidence, r.gate, r.gate_entropy, r.lam, r.mc_probs, r.experts, r.subsets

The flow is one way: raw input → preprocessing → frozen encoder → embedding (cached by content hash)
→ fusion diagnostics (aecf.fusion.diagnose) → Prediction. Only the given modalities are present.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aecf.constants import CHECKPOINT_DIR, MODALITIES
from aecf.errors import CheckpointError, InputError

FUSION_DIR = CHECKPOINT_DIR / "fusion"
DEFAULT_CHECKPOINT = FUSION_DIR / "aecf.safetensors"
_EMBED_CACHE_SIZE = 256


@dataclass
class SubsetPrediction:
    label: int
    confidence: float
    probs: np.ndarray  # [C]


@dataclass
class Prediction:
    """Everything the fusion layer says about one example. Probabilities are temperature-scaled."""

    probs: np.ndarray  # [C]
    label: int
    label_name: str
    confidence: float
    present: tuple[str, ...]  # the modalities given, in MODALITIES order
    gate: dict[str, float] | None  # modality -> p_m (0 for an absent one); None for gateless methods
    gate_entropy: float | None  # H(p) in nats
    lam: float | None  # λ(x) from the K MC-dropout passes
    uncertainty: float  # u(x) = Σ_y Var_k p_k(y|x)
    mc_probs: np.ndarray  # [K, C], one row per MC-dropout pass
    experts: dict[str, np.ndarray]  # modality -> that encoder's own zero-shot probabilities [C]
    subsets: dict[str, SubsetPrediction]  # "image+audio" -> prediction with only that subset
    image_28: np.ndarray | None = None  # [28, 28] in [0, 1]: what the image tower saw
    logmel: np.ndarray | None = None  # [n_mels, T]: what the audio tower heard
    caption_text: str | None = None  # the caption after normalisation
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def mc_confidence(self) -> np.ndarray:
        """Per-pass confidence of the final prediction's class, the spread that λ(x) reads."""
        return self.mc_probs[:, self.label]


def list_checkpoints(directory: str | Path = FUSION_DIR) -> list[Path]:
    """Shipped fusion checkpoints (their .safetensors paths), AECF first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.safetensors"))
    return sorted(paths, key=lambda p: (p.stem != "aecf", p.stem))


def content_key(*parts) -> str:
    """A stable hash of raw input content (bytes, arrays, strings, numbers) for the embedding cache."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.dtype, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, bytes | bytearray):
            h.update(bytes(part))
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def _raw_bytes(source) -> bytes | None:
    """Bytes of a path / file-like input so that identical content hits the cache; None otherwise."""
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"File not found: {source}")
        return path.read_bytes()
    if hasattr(source, "getvalue"):
        return source.getvalue()
    if hasattr(source, "read"):
        data = source.read()
        if hasattr(source, "seek"):
            source.seek(0)
        return data
    return None


class Model:
    """A fusion checkpoint plus the frozen encoders that feed it."""

    def __init__(self, fusion, encoders, path: Path | None = None, name: str | None = None):
        self.fusion = fusion.eval()
        self.encoders = encoders
        self.path = path
        self.config = fusion.config
        self.method = fusion.config.method
        self.name = name or (path.stem if path is not None else self.method)
        self.modalities: tuple[str, ...] = tuple(fusion.config.modalities)
        self.classes: tuple[str, ...] = tuple(fusion.config.classes)
        self._cache: OrderedDict[str, dict] = OrderedDict()

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, method={self.method!r}, modalities={self.modalities})"

    # ------------------------------------------------------------------ per-modality embedding
    def _cached(self, key: str, compute) -> dict:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = compute()
        self._cache[key] = value
        if len(self._cache) > _EMBED_CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    def embed_image(self, image, corruption: float = 0.0, seed: int = 0) -> dict:
        """Preprocess (MNIST style), optionally corrupt like the benchmark, encode. Cached by content."""
        from aecf.encoders import preprocess_image

        raw = _raw_bytes(image)
        key_src = raw if raw is not None else np.asarray(image)
        key = content_key("image", key_src, round(float(corruption), 4), seed)

        def compute():
            img = preprocess_image(raw if raw is not None else image)
            if corruption > 0:
                from aecf.data.corruption import corrupt_image

                img = corrupt_image((img * 255).round().astype(np.uint8), float(corruption), seed).astype(np.float32) / 255
            emb = self.encoders.encode_image(torch.from_numpy(img.astype(np.float32))[None, None])[0]
            return {"embedding": emb, "image_28": img}

        return self._cached(key, compute)

    def embed_caption(self, caption: str) -> dict:
        from aecf.encoders import preprocess_caption

        if not isinstance(caption, str):
            raise InputError("The caption must be text.")
        text = preprocess_caption(caption)
        return self._cached(
            content_key("caption", text),
            lambda: {"embedding": self.encoders.encode_text([text])[0], "caption_text": text},
        )

    def embed_audio(self, audio, snr_db: float | None = None, seed: int = 0) -> dict:
        """Decode → mono 16 kHz → trim → (optional noise at snr_db) → log-mel → audio tower. Cached."""
        from aecf.encoders import logmel, preprocess_audio

        if isinstance(audio, tuple):
            if len(audio) != 2:
                raise InputError("Audio given as a tuple must be (samples, sample_rate).")
            key_src = (np.asarray(audio[0]), int(audio[1]))
            source = (np.asarray(audio[0]), int(audio[1]))
        else:
            source = _raw_bytes(audio)
            if source is None:
                raise InputError("Audio must be a file path, bytes, or a (samples, sample_rate) tuple.")
            key_src = (source,)
        key = content_key("audio", *key_src, None if snr_db is None else round(float(snr_db), 3), seed)

        def compute():
            wave = preprocess_audio(source)
            if snr_db is not None:
                from aecf.data.corruption import corrupt_audio

                wave = corrupt_audio(wave, float(snr_db), seed)
            mel = logmel(wave)
            return {"embedding": self.encoders.encode_audio(mel[None])[0], "logmel": mel, "wave": wave}

        return self._cached(key, compute)

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        image=None,
        caption: str | None = None,
        audio=None,
        mc_samples: int = 20,
        image_corruption: float = 0.0,
        audio_snr_db: float | None = None,
        seed: int = 0,
    ) -> Prediction:
        """Predict from whichever modalities are given (None = absent), with every diagnostic.

        image: path, bytes, PIL.Image or ndarray; caption: str; audio: path, bytes or (samples, rate).
        image_corruption (0..1) and audio_snr_db apply the benchmark's corruptions on purpose.
        """
        given = {"image": image, "caption": caption, "audio": audio}
        unknown = [m for m, v in given.items() if v is not None and m not in self.modalities]
        if unknown:
            raise InputError(f"This checkpoint ({self.name}) has no {', '.join(unknown)} modality.")
        if all(given[m] is None for m in self.modalities):
            raise ValueError("Give at least one modality: image, caption or audio.")
        parts: dict[str, dict] = {}
        if image is not None:
            parts["image"] = self.embed_image(image, image_corruption, seed)
        if caption is not None:
            parts["caption"] = self.embed_caption(caption)
        if audio is not None:
            parts["audio"] = self.embed_audio(audio, audio_snr_db, seed)
        return self.predict_embeddings({m: p["embedding"] for m, p in parts.items()}, mc_samples, extras=parts)

    def predict_embeddings(self, embeddings: dict, mc_samples: int = 20, extras: dict | None = None) -> Prediction:
        """The fusion half of `predict`, for embeddings already computed (e.g. from the feature cache)."""
        from aecf.fusion import diagnose

        if not embeddings:
            raise ValueError("Give at least one modality: image, caption or audio.")
        if mc_samples < 2:
            raise ValueError("mc_samples must be at least 2 (λ(x) is a variance over passes).")
        dim = self.config.embed_dim
        x = torch.zeros(len(self.modalities), dim)
        present = torch.zeros(len(self.modalities), dtype=torch.bool)
        for m, emb in embeddings.items():
            emb = torch.as_tensor(np.asarray(emb, dtype=np.float32)).reshape(-1)
            if emb.numel() != dim:
                raise CheckpointError(
                    f"The {m} embedding has {emb.numel()} dimensions but checkpoint {self.name} expects {dim}: "
                    "the checkpoint was trained on other encoders."
                )
            i = self.modalities.index(m)
            x[i], present[i] = emb, True
        d = diagnose(self.fusion, x, present, mc_samples=mc_samples)
        present_names = tuple(m for m in MODALITIES if m in embeddings) or tuple(embeddings)
        experts = {}
        for m in present_names:
            if hasattr(self.encoders, "zero_shot"):
                experts[m] = self.encoders.zero_shot(torch.as_tensor(np.asarray(embeddings[m], dtype=np.float32)))[0].numpy()
        subsets = {
            name: SubsetPrediction(int(p.argmax()), float(self.fusion.head_type.confidence(p[None])[0]), p.numpy())
            for name, p in d.subsets.items()
        }
        extras = extras or {}
        return Prediction(
            probs=d.probs.numpy(),
            label=d.label,
            label_name=self.classes[d.label],
            confidence=d.confidence,
            present=present_names,
            gate=None if d.gate is None else {m: float(d.gate[i]) for i, m in enumerate(self.modalities)},
            gate_entropy=d.gate_entropy,
            lam=d.lam,
            uncertainty=d.uncertainty,
            mc_probs=d.mc_probs.numpy(),
            experts=experts,
            subsets=subsets,
            image_28=extras.get("image", {}).get("image_28"),
            logmel=extras.get("audio", {}).get("logmel"),
            caption_text=extras.get("caption", {}).get("caption_text"),
            embeddings={m: np.asarray(e, dtype=np.float32) for m, e in embeddings.items()},
        )


def load(path: str | Path | None = None, encoders=None) -> Model:
    """The shipped AECF checkpoint (path=None), a checkpoint stem/file, or a run directory."""
    from aecf.checkpoint import load_checkpoint

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if path is DEFAULT_CHECKPOINT and not path.exists():
        raise CheckpointError(
            f"The shipped AECF checkpoint {path} is missing. Train it with "
            "`python -m aecf train --method aecf --out checkpoints/fusion/aecf`."
        )
    fusion = load_checkpoint(path)
    if encoders is None:
        from aecf.encoders import load_encoders

        encoders = load_encoders()
    stem = path.name[: -len(".safetensors")] if path.name.endswith(".safetensors") else path.name
    name = path.parent.name if path.is_dir() or stem == "model" else stem
    return Model(fusion, encoders, path, name=name)
