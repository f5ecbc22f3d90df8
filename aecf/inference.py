"""Load a fusion checkpoint with its frozen encoders and predict one example with every diagnostic.

    model = aecf.load()                                   # the shipped AECF checkpoint
    r = model.predict(image="assets/samples/seven.png", caption="an odd number", audio="clip.wav")
    r.label, r.confidence, r.gate, r.gate_entropy, r.lam, r.mc_probs, r.experts, r.subsets

A checkpoint trained on COCO features (`extra["encoder"]`, written by `python -m aecf train --features`
from the features' meta.json) loads as a `ClipModel`: the open_clip model that made the features is rebuilt
offline (same name, weights file / cached tag, or the same seeded random weights for `none`), images go
through open_clip's preprocess transform, the head is multi-label (`Model.task == "multilabel"`, sigmoid
probabilities over the 80 categories; `Prediction.top_labels(k)`), and only image and caption exist.

The flow is one way: raw input → preprocessing → frozen encoder → embedding (cached by content hash)
→ fusion diagnostics (aecf.fusion.diagnose) → Prediction. Only the given modalities are present.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aecf.constants import CLASSES, EMBED_DIM, MODALITIES
from aecf.errors import CheckpointError, InputError
from aecf.paths import FUSION_DIR

DEFAULT_CHECKPOINT = FUSION_DIR / "aecf.safetensors"
TRAIN_SHIPPED_COMMAND = "python -m aecf train --method aecf --out checkpoints/fusion/aecf"
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
    present: tuple[str, ...]  # the modalities given, in the model's order
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
    wave: np.ndarray | None = None  # float32 mono 16 kHz: what the audio tower heard (after noise)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    classes: tuple[str, ...] = ()  # the checkpoint's class names, index-aligned with probs

    def top_labels(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable classes as [(name, prob)], most probable first (multi-label: independent
        sigmoid probabilities, so several can be high)."""
        order = np.argsort(-np.asarray(self.probs), kind="stable")[: max(0, int(k))]
        names = self.classes or tuple(str(i) for i in range(len(self.probs)))
        return [(names[i], float(self.probs[i])) for i in order]

    @property
    def mc_confidence(self) -> np.ndarray:
        """Per-pass confidence of the final prediction's class, the spread that λ(x) reads."""
        return self.mc_probs[:, self.label]


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
    """A fusion checkpoint plus the frozen encoders that feed it.

    Safe to share between threads (the app serves every session with one Model per checkpoint): each
    call holds the model's lock, because the embedding cache is shared and MC-dropout draws from torch's
    global RNG. Each input is keyed once, by `content_key` of its raw content, into that one cache.
    """

    def __init__(self, fusion, encoders, path: Path | None = None, name: str | None = None):
        self.fusion = fusion.eval()
        self.encoders = encoders
        self.path = path
        self.config = fusion.config
        self.method = fusion.config.method
        self.name = name or (path.stem if path is not None else self.method)
        self.modalities: tuple[str, ...] = tuple(fusion.config.modalities)
        self.classes: tuple[str, ...] = tuple(fusion.config.classes)
        self._cache: OrderedDict[str, dict] = OrderedDict()  # content key -> embedding (+ what the tower saw)
        self._predictions: OrderedDict[tuple, Prediction] = (
            OrderedDict()
        )  # (content keys, K, seed) -> Prediction
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, method={self.method!r}, modalities={self.modalities})"

    @property
    def task(self) -> str:
        """`multilabel` (sigmoid head, e.g. COCO: independent per-class probs) or `multiclass`."""
        return "multilabel" if self.config.head == "sigmoid" else "multiclass"

    @property
    def encoder_spec(self) -> dict | None:
        """The open_clip spec of a COCO checkpoint (model name, weights, classes); None for digits."""
        return getattr(self.encoders, "spec", None)

    # ------------------------------------------------------------------ per-modality embedding
    def _cached(self, key: str, compute) -> dict:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            value = {**compute(), "key": key}
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

                img = (
                    corrupt_image((img * 255).round().astype(np.uint8), float(corruption), seed).astype(
                        np.float32
                    )
                    / 255
                )
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
            info: dict = {}
            wave = preprocess_audio(source, info)
            if snr_db is not None:
                from aecf.data.corruption import corrupt_audio

                wave = corrupt_audio(wave, float(snr_db), seed)
            mel = logmel(wave)
            return {
                "embedding": self.encoders.encode_wave(wave, mel),
                "logmel": mel,
                "wave": wave,
                "recording_snr_db": info.get("snr_db"),
                "recording_sounds": info.get("sounds"),
                "recording_not_speech": info.get("not_speech"),
            }

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
        image_corruption (0..1) and audio_snr_db apply the benchmark's corruptions on purpose; `seed` seeds
        them and the K MC-dropout passes, so the same call gives the same numbers.
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
        return self.predict_embeddings(
            {m: p["embedding"] for m, p in parts.items()},
            mc_samples,
            extras=parts,
            seed=seed,
            cache_key=tuple((m, p["key"]) for m, p in parts.items()),
        )

    def predict_embeddings(
        self,
        embeddings: dict,
        mc_samples: int = 20,
        extras: dict | None = None,
        seed: int | None = None,
        cache_key: tuple | None = None,
    ) -> Prediction:
        """The fusion half of `predict`, for embeddings already computed (e.g. from the feature cache).

        With a `seed`, the K MC-dropout passes are drawn from it (the caller's RNG is left as it was), and
        then a `cache_key` naming the embeddings (their content keys, as `predict` passes) lets the same
        view come back from the model's cache instead of being recomputed. Returned predictions are shared:
        treat them as read-only."""
        with self._lock:
            if seed is None:
                return self._predict_embeddings(embeddings, mc_samples, extras)
            key = None if cache_key is None else (cache_key, int(mc_samples), int(seed))
            if key is not None and key in self._predictions:
                self._predictions.move_to_end(key)
                return self._predictions[key]
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(int(seed))  # CPU only: torch.manual_seed also wakes CUDA
                pred = self._predict_embeddings(embeddings, mc_samples, extras)
            if key is not None:
                self._predictions[key] = pred
                if len(self._predictions) > _EMBED_CACHE_SIZE:
                    self._predictions.popitem(last=False)
            return pred

    def _predict_embeddings(self, embeddings: dict, mc_samples: int, extras: dict | None) -> Prediction:
        from aecf.fusion import diagnose

        if not embeddings:
            raise ValueError("Give at least one modality: image, caption or audio.")
        if mc_samples < 2:
            raise ValueError("mc_samples must be at least 2 (λ(x) is a variance over passes).")
        widths = self.config.widths  # each modality's width (they may differ); x is padded to the widest
        x = torch.zeros(len(self.modalities), self.config.embed_dim)
        present = torch.zeros(len(self.modalities), dtype=torch.bool)
        for m, emb in embeddings.items():
            emb = torch.as_tensor(np.asarray(emb, dtype=np.float32)).reshape(-1)
            i = self.modalities.index(m)
            if emb.numel() != widths[i]:
                raise CheckpointError(
                    f"The {m} embedding has {emb.numel()} dimensions but checkpoint {self.name} expects "
                    f"{widths[i]}: the checkpoint was trained on other encoders."
                )
            x[i, : widths[i]], present[i] = emb, True
        d = diagnose(self.fusion, x, present, mc_samples=mc_samples)
        present_names = tuple(m for m in self.modalities if m in embeddings)  # in the model's order
        experts = {}
        for m in present_names:
            if hasattr(self.encoders, "zero_shot"):
                experts[m] = self.encoders.zero_shot(
                    torch.as_tensor(np.asarray(embeddings[m], dtype=np.float32))
                )[0].numpy()
        subsets = {
            name: SubsetPrediction(
                int(p.argmax()), float(self.fusion.head_type.confidence(p[None])[0]), p.numpy()
            )
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
            wave=extras.get("audio", {}).get("wave"),
            embeddings={m: np.asarray(e, dtype=np.float32) for m, e in embeddings.items()},
            classes=self.classes,
        )


# ------------------------------------------------------------------------------------ COCO / open_clip


class ClipEncoders:
    """The open_clip model that made a COCO feature cache, rebuilt from a checkpoint's `extra["encoder"]`.

    Embeddings are L2-normalised fp32 (the cache holds the same in float16). Zero-shot experts use the
    class prompts ("a photo of a {}.") encoded by this model and its logit scale, exactly as
    aecf.data.coco wrote class_embeddings / logit_scale into the features; they are a softmax over the
    classes (CLIP's zero-shot rule), not per-class sigmoids: compare their ranking, not their values,
    with the fusion's multi-label probabilities.
    """

    def __init__(self, spec: dict):
        from aecf.encoders.clip import load_clip

        self.spec = dict(spec)
        self.classes = tuple(spec.get("classes") or ())
        try:
            # `none` weights are drawn after torch.manual_seed(seed); keep the caller's RNG untouched
            with torch.random.fork_rng():
                self.model, self.transform, self.tokenizer = load_clip(
                    spec["clip"],
                    str(spec.get("pretrained", "none")),
                    torch.device("cpu"),
                    int(spec.get("seed", 0)),
                )
        except (InputError, CheckpointError, KeyError, OSError) as e:
            raise CheckpointError(
                f"Cannot rebuild the CLIP of this COCO checkpoint ({spec.get('clip')!r}, weights "
                f"{spec.get('pretrained')!r}): {e}"
            ) from e
        self.logit_scale = (
            float(self.model.logit_scale.exp()) if hasattr(self.model, "logit_scale") else 100.0
        )
        prompt = spec.get("class_prompt") or "a photo of a {}."
        self.class_embeddings = self.encode_text([prompt.format(c) for c in self.classes])

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        from aecf.data.coco import encode_texts

        if not texts:
            return torch.zeros(0, 0)
        return encode_texts(self.model, self.tokenizer, list(texts), torch.device("cpu"))

    @torch.no_grad()
    def encode_pil(self, image) -> torch.Tensor:
        pixels = self.transform(image.convert("RGB")).unsqueeze(0)
        return self.model.encode_image(pixels, normalize=True).float()[0]

    def zero_shot(self, emb) -> torch.Tensor:
        """Embeddings [D] or [B, D] -> softmax(logit_scale · cos(emb, class prompt)) [B, C]."""
        emb = torch.as_tensor(emb).float()
        if emb.ndim == 1:
            emb = emb[None]
        emb = torch.nn.functional.normalize(emb, dim=-1)
        return torch.softmax(self.logit_scale * emb @ self.class_embeddings.T, dim=-1)


_CLIP_CACHE: OrderedDict[str, ClipEncoders] = OrderedDict()


def clip_encoders(spec: dict) -> ClipEncoders:
    """ClipEncoders for a spec, built once per process (the last 2 kept)."""
    import json

    key = json.dumps(spec, sort_keys=True)
    if key not in _CLIP_CACHE:
        _CLIP_CACHE[key] = ClipEncoders(spec)
        while len(_CLIP_CACHE) > 2:
            _CLIP_CACHE.popitem(last=False)
    _CLIP_CACHE.move_to_end(key)
    return _CLIP_CACHE[key]


def _open_pil(image, raw: bytes | None):
    import io

    from PIL import Image, UnidentifiedImageError

    if raw is not None:
        try:
            with Image.open(io.BytesIO(raw)) as im:
                im.load()
                return im.copy()
        except (UnidentifiedImageError, OSError) as e:
            raise InputError(f"Cannot read the image ({e}).") from e
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            arr = (
                (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
                if arr.max() <= 1
                else arr.astype(np.uint8)
            )
        return Image.fromarray(arr)
    raise InputError("The image must be a file path, bytes, a PIL image or an array.")


class ClipModel(Model):
    """A fusion checkpoint trained on COCO features, with the open_clip model that made them."""

    def embed_image(self, image, corruption: float = 0.0, seed: int = 0) -> dict:
        """open_clip preprocess (resize, centre crop, normalise) → encode_image. Cached by content."""
        if corruption:
            raise InputError(
                "image_corruption is the digits benchmark's corruption; COCO images are used as given."
            )
        raw = _raw_bytes(image)
        key = content_key("coco-image", raw if raw is not None else np.asarray(image))

        def compute():
            return {"embedding": self.encoders.encode_pil(_open_pil(image, raw))}

        return self._cached(key, compute)

    def embed_caption(self, caption: str) -> dict:
        if not isinstance(caption, str) or not caption.strip():
            raise InputError("The caption must be non-empty text.")
        text = " ".join(caption.split())  # as aecf.data.coco normalises COCO captions
        return self._cached(
            content_key("coco-caption", text),
            lambda: {"embedding": self.encoders.encode_text([text])[0], "caption_text": text},
        )

    def embed_audio(self, audio, snr_db: float | None = None, seed: int = 0) -> dict:
        raise InputError(f"This checkpoint ({self.name}) is a COCO model: image and caption only, no audio.")


def _fed_by_digits_towers(config) -> bool:
    """True for a checkpoint over the digits' towers (some of MODALITIES, 64 wide, the ten digits). One trained
    on a dataset of one's own has no towers here: its inputs are embeddings already (`predict_embeddings`)."""
    return (
        set(config.modalities) <= set(MODALITIES)
        and all(w == EMBED_DIM for w in config.widths)
        and tuple(config.classes) == CLASSES
    )


def load(path: str | Path | None = None, encoders=None) -> Model:
    """The shipped AECF checkpoint (path=None), a checkpoint stem/file, or a run directory."""
    from aecf.checkpoint import checkpoint_info, load_checkpoint

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if path is DEFAULT_CHECKPOINT and not path.exists():
        raise CheckpointError(
            f"The shipped AECF checkpoint {path} is missing. Train it with `{TRAIN_SHIPPED_COMMAND}`."
        )
    fusion = load_checkpoint(path)
    info = checkpoint_info(path)
    if info.encoder == "open_clip":
        return ClipModel(
            fusion,
            encoders if encoders is not None else clip_encoders(info.encoder_spec),
            path,
            name=info.stem,
        )
    if encoders is None and _fed_by_digits_towers(fusion.config):
        from aecf.encoders import load_encoders

        encoders = load_encoders()
    return Model(fusion, encoders, path, name=info.stem)
