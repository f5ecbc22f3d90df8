"""Frozen modality encoders: image and caption towers (open_clip), audio tower (log-mel CNN).

    enc = load_encoders()                      # checkpoints/encoders/, cached, CPU, eval, no_grad
    z_img = enc.encode_image(images)           # float32 [B,1,28,28] MNIST style -> [B,64]
    z_txt = enc.encode_text(["a seven"])       # -> [B,64]
    z_aud = enc.encode_audio(mels)             # logmel [B,n_mels,T] -> [B,64]
    probs = enc.zero_shot(z_img)               # [B,10], against enc.class_embeddings()

Real inputs go through `preprocess_image` / `preprocess_audio` + `logmel` / `preprocess_caption` first.
`save_encoders` writes what `load_encoders` reads (`python -m aecf encoders train` calls it).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from aecf.constants import EMBED_DIM, NUM_CLASSES
from aecf.data.captions import class_prompt
from aecf.encoders.audio import (
    MEL,
    AudioEncoder,
    AudioNetConfig,
    MelConfig,
    logmel,
    logmel_batch,
    logmel_many,
    speed_perturb,
)
from aecf.encoders.clip import DIGITS_MODEL, load_clip, to_clip_pixels
from aecf.encoders.preprocess import preprocess_audio, preprocess_caption, preprocess_image
from aecf.errors import CheckpointError
from aecf.files import write_atomic
from aecf.paths import CHECKPOINT_DIR, ENCODER_DIR, MODEL_CONFIG_DIR

__all__ = [
    "Encoders",
    "load_encoders",
    "save_encoders",
    "encoder_dir",
    "load_clip",
    "logmel",
    "logmel_batch",
    "preprocess_image",
    "preprocess_audio",
    "preprocess_caption",
]

ENCODER_SUBDIR = ENCODER_DIR.name  # checkpoints/encoders/
CONFIG_FILE = "encoders.json"
CLIP_FILE = "clip.safetensors"
AUDIO_FILE = "audio.safetensors"
BATCH = 1024


def encoder_dir(checkpoint_dir: str | Path = CHECKPOINT_DIR) -> Path:
    """`checkpoints/encoders/` given `checkpoints/` (a directory holding encoders.json is taken as is)."""
    d = Path(checkpoint_dir)
    return d if (d / CONFIG_FILE).exists() or d.name == ENCODER_SUBDIR else d / ENCODER_SUBDIR


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Encoders:
    """The three frozen towers behind one interface (docs/architecture.md). CPU, eval, no_grad."""

    def __init__(
        self,
        clip_model: torch.nn.Module,
        tokenizer,
        audio_model: AudioEncoder,
        class_prompts: list[str],
        mel: MelConfig = MEL,
        info: dict | None = None,
    ):
        self.clip = clip_model.eval()
        self.tokenizer = tokenizer
        self.audio = audio_model.eval()
        self.class_prompts = list(class_prompts)
        self.mel = mel
        self.info = info or {}
        self.logit_scale = float(self.clip.logit_scale.detach().exp().clamp(max=100.0))
        self._class_embeddings: torch.Tensor | None = None
        # test-time speeds: a clip's audio embedding is the mean over these renderings of it (played
        # faster/slower, pitch with it, as in training); encoders.json "audio" -> "test_speeds", absent: (1.0,)
        self.audio_speeds = tuple(
            float(s) for s in ((info or {}).get("audio", {}).get("test_speeds") or (1.0,))
        )

    @staticmethod
    def _batches(n: int):
        for i in range(0, n, BATCH):
            yield slice(i, min(n, i + BATCH))

    @torch.no_grad()
    def encode_image(self, images) -> torch.Tensor:
        """float [B,1,28,28] (or [B,28,28]) in [0,1], white ink on black -> unit vectors [B,64]."""
        x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images).float()
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            x = x[:, None]
        if x.shape[0] == 0:
            return torch.zeros(0, EMBED_DIM)
        out = [
            self.clip.encode_image(to_clip_pixels(x[s], self.clip), normalize=True)
            for s in self._batches(len(x))
        ]
        return torch.cat(out).float()

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Captions -> unit vectors [B,64] (truncated to the tokenizer's context)."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return torch.zeros(0, EMBED_DIM)
        out = [
            self.clip.encode_text(self.tokenizer(texts[s]), normalize=True) for s in self._batches(len(texts))
        ]
        return torch.cat(out).float()

    @torch.no_grad()
    def encode_audio(self, mels) -> torch.Tensor:
        """log-mel float [B, n_mels, T] (from `logmel`) -> unit vectors [B,64]."""
        x = torch.as_tensor(np.asarray(mels) if not torch.is_tensor(mels) else mels).float()
        if x.ndim == 2:
            x = x[None]
        if x.shape[0] == 0:
            return torch.zeros(0, EMBED_DIM)
        if tuple(x.shape[1:]) != (self.mel.n_mels, self.mel.n_frames):
            raise ValueError(
                f"encode_audio expects log-mels [B, {self.mel.n_mels}, {self.mel.n_frames}] "
                f"(use aecf.encoders.logmel); got {tuple(x.shape)}"
            )
        return torch.cat([self.audio(x[s]) for s in self._batches(len(x))]).float()

    def encode_waves(self, waves: list[np.ndarray]) -> torch.Tensor:
        """Mono 16 kHz clips of any length -> [B,64] (windowing + batched log-mel + audio tower), averaged
        over `audio_speeds`."""
        waves = list(waves)
        return self._over_speeds(
            lambda s: self.encode_audio(logmel_many([_at_speed(w, s) for w in waves], self.mel))
        )

    def encode_wave(self, wave: np.ndarray, mel: np.ndarray | None = None) -> torch.Tensor:
        """One mono 16 kHz clip (what `preprocess_audio` returns) -> [64], averaged over `audio_speeds` (the
        reference log-mel `logmel`, as an upload gets it; `mel`: its log-mel at speed 1 if already made)."""
        return self._over_speeds(
            lambda s: self.encode_audio(
                (mel if s == 1.0 and mel is not None else logmel(_at_speed(wave, s)))[None]
            )
        )[0]

    def _over_speeds(self, embed) -> torch.Tensor:
        if self.audio_speeds == (1.0,):
            return embed(1.0)
        return torch.nn.functional.normalize(sum(embed(s) for s in self.audio_speeds), dim=-1)

    def class_embeddings(self) -> torch.Tensor:
        """Text embeddings of the ten class prompts ("the digit zero", ...) [10,64]."""
        if self._class_embeddings is None:
            self._class_embeddings = self.encode_text(self.class_prompts)
        return self._class_embeddings.clone()

    @torch.no_grad()
    def zero_shot(self, emb) -> torch.Tensor:
        """Embeddings of any modality [B,64] -> class probabilities [B,10] (CLIP softmax)."""
        emb = torch.as_tensor(emb).float()
        if emb.ndim == 1:
            emb = emb[None]
        return torch.softmax(self.logit_scale * emb @ self.class_embeddings().T, dim=-1)


def _at_speed(wave: np.ndarray, speed: float) -> np.ndarray:
    return wave if speed == 1.0 else speed_perturb(np.asarray(wave, np.float32), speed)


def _read_config(directory: Path) -> dict:
    path = directory / CONFIG_FILE
    if not path.exists():
        raise CheckpointError(
            f"Encoder checkpoint {path} not found. Train the encoders with `python -m aecf encoders train`."
        )
    try:
        config = json.loads(path.read_text())
        for key in ("clip", "audio", "class_prompts"):
            config[key]  # noqa: B018 - presence check
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} is corrupt or incomplete ({e}). Retrain the encoders.") from e
    return config


def _check_file(directory: Path, entry: dict) -> Path:
    path = directory / entry["weights"]
    if not path.exists():
        raise CheckpointError(
            f"Encoder weights {path} not found. Retrain with `python -m aecf encoders train`."
        )
    want = entry.get("sha256")
    if want and sha256_file(path) != want:
        raise CheckpointError(
            f"Encoder weights {path} are corrupt (checksum mismatch). Retrain or re-fetch them."
        )
    return path


def _load_audio(path: Path, cfg: AudioNetConfig) -> AudioEncoder:
    model = AudioEncoder(cfg)
    try:
        state = safetensors.torch.load_file(str(path))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except Exception as e:
        raise CheckpointError(f"Audio weights {path} do not match the audio tower ({e}).") from e
    return model.eval()


@lru_cache(maxsize=4)
def _load_cached(directory: str) -> Encoders:
    d = Path(directory)
    config = _read_config(d)
    try:
        mel = MelConfig.from_dict(config["audio"]["mel"])
        net = AudioNetConfig.from_dict(config["audio"]["net"])
        model_name = config["clip"].get("model_name", DIGITS_MODEL)
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{d / CONFIG_FILE} has an invalid audio/clip section ({e}).") from e
    if mel != MEL:
        raise CheckpointError(
            f"The audio tower in {d} was trained with other log-mel parameters ({mel}) than this code "
            f"computes ({MEL}). Retrain the encoders."
        )
    clip_path = _check_file(d, config["clip"])
    audio_path = _check_file(d, config["audio"])
    clip_model, _, tokenizer = load_clip(model_name, clip_path)
    audio_model = _load_audio(audio_path, net)
    prompts = list(config["class_prompts"])
    if len(prompts) != NUM_CLASSES:
        raise CheckpointError(
            f"{d / CONFIG_FILE} lists {len(prompts)} class prompts, expected {NUM_CLASSES}."
        )
    enc = Encoders(clip_model, tokenizer, audio_model, prompts, mel, info=config)
    for p in list(enc.clip.parameters()) + list(enc.audio.parameters()):
        p.requires_grad_(False)
    return enc


def save_encoders(
    out: Path,
    clip_model,
    audio_model: AudioEncoder,
    net: AudioNetConfig,
    info: dict,
    model_name: str = DIGITS_MODEL,
    test_speeds: tuple[float, ...] = (1.0,),
) -> Path:
    """Write clip.safetensors (float16), audio.safetensors, encoders.json into `out`, atomically per file."""
    out.mkdir(parents=True, exist_ok=True)
    clip_state = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in clip_model.state_dict().items()
    }
    audio_state = {k: v.detach().contiguous() for k, v in audio_model.state_dict().items()}
    for name, state in ((CLIP_FILE, clip_state), (AUDIO_FILE, audio_state)):
        write_atomic(out / name, safetensors.torch.save(state))
    model_config = json.loads((MODEL_CONFIG_DIR / f"{model_name}.json").read_text())
    config = {
        "clip": {
            "model_name": model_name,
            "model_config": model_config,
            "weights": CLIP_FILE,
            "dtype": "float16",
            "sha256": sha256_file(out / CLIP_FILE),
        },
        "audio": {
            "net": net.to_dict(),
            "mel": MEL.to_dict(),
            "weights": AUDIO_FILE,
            "sha256": sha256_file(out / AUDIO_FILE),
            "test_speeds": [float(v) for v in test_speeds],
        },
        "class_prompts": [class_prompt(d) for d in range(NUM_CLASSES)],
        "logit_scale": float(clip_model.logit_scale.detach().float().exp()),
        "training": info,
    }
    write_atomic(out / CONFIG_FILE, json.dumps(config, indent=1))
    return out


def load_encoders(checkpoint_dir: str | Path = CHECKPOINT_DIR) -> Encoders:
    """Load (once per process) the shipped frozen encoders. Raises CheckpointError if unusable."""
    return _load_cached(str(encoder_dir(checkpoint_dir).resolve()))
