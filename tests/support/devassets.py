"""Stand-in checkpoints and samples so the app (and its tests) run before the shipped ones exist.

    python -m tests.support.devassets OUT      # OUT/checkpoints/{encoders,fusion}, OUT/samples, OUT/features

Encoders are *untrained* (random weights of the real architectures) and the fusion checkpoints are
trained for one epoch on synthetic embeddings: every code path of the app runs, the numbers mean
nothing. Point the app at them with AECF_APP_CHECKPOINT_DIR=OUT/checkpoints and
AECF_APP_SAMPLES_DIR=OUT/samples. The real app uses checkpoints/ and assets/samples/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from aecf.constants import SAMPLE_RATE

CAPTIONS = {"seven": "a handwritten seven", "two": "the digit two", "three": "an odd number"}


def build_encoders(out: Path) -> Path:
    import torch

    from aecf.encoders import save_encoders
    from aecf.encoders.audio import AudioEncoder, AudioNetConfig
    from aecf.encoders.clip import load_clip

    torch.manual_seed(0)
    clip_model, _, _ = load_clip()
    net = AudioNetConfig()
    return save_encoders(out, clip_model, AudioEncoder(net), net, {"dev": "untrained stand-in"})


def build_features(out: Path, n_train: int = 600, n_val: int = 200, n_test: int = 200) -> Path:
    from aecf.data.cache import save_split
    from aecf.data.synthetic import make_synthetic_split

    out.mkdir(parents=True, exist_ok=True)
    for name, n, seed in (("train", n_train, 1), ("val", n_val, 2), ("test", n_test, 3)):
        s = make_synthetic_split(n, seed)
        save_split(
            out / f"{name}.npz",
            {m: s.x[:, i].numpy() for i, m in enumerate(s.modalities)},
            s.label.numpy(),
            {m: s.modality_severity[:, i].numpy() for i, m in enumerate(s.modalities)},
            s.class_embeddings.numpy(),
            s.logit_scale,
            caption_level=None if s.caption_level is None else s.caption_level.numpy(),
        )
    return out


def build_fusion(
    out: Path, features: Path, methods=("aecf", "late_fusion", "moddrop"), epochs: int = 1
) -> Path:
    from aecf.checkpoint import save_checkpoint
    from aecf.data.cache import load_split
    from aecf.train import make_config, train

    out.mkdir(parents=True, exist_ok=True)
    split_train, split_val = load_split("train", features), load_split("val", features)
    for method in methods:
        model, _ = train(make_config(method, epochs=epochs), split_train, split_val)
        save_checkpoint(model, out / method)
    return out


def build_samples(out: Path) -> Path:
    """Three MNIST test digits as PNG, spoken digits as WAV (espeak-ng if installed, else tones), captions."""
    import soundfile as sf
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    try:
        from aecf.data.mnist import load_mnist

        images, labels = load_mnist("test")
    except Exception:  # noqa: BLE001 - no MNIST: draw plain strokes
        images, labels = None, None
    names = {7: "seven", 2: "two", 3: "three"}
    for digit, word in names.items():
        if images is not None:
            img = images[int(np.nonzero(labels == digit)[0][0])]
        else:
            img = np.zeros((28, 28), np.uint8)
            img[6:22, 12:16] = 255
        Image.fromarray(np.asarray(img, np.uint8)).resize((112, 112)).save(out / f"{word}.png")
        wav = out / f"{word}.wav"
        espeak = shutil.which("espeak-ng")
        if espeak:
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "raw.wav"
                subprocess.run([espeak, "-w", str(raw), word], check=True, capture_output=True)
                wave, sr = sf.read(raw, dtype="float32")
            if sr != SAMPLE_RATE:
                import librosa

                wave = librosa.resample(wave, orig_sr=sr, target_sr=SAMPLE_RATE)
        else:
            t = np.arange(int(0.6 * SAMPLE_RATE)) / SAMPLE_RATE
            wave = 0.5 * np.sin(2 * np.pi * (200 + 40 * digit) * t) * np.hanning(len(t))
        sf.write(wav, np.asarray(wave, np.float32), SAMPLE_RATE)
    (out / "captions.txt").write_text("".join(f"{w}\t{CAPTIONS[w]}\n" for w in names.values()))
    return out


def build_all(out: str | Path) -> dict[str, Path]:
    out = Path(out)
    features = build_features(out / "features")
    return {
        "encoders": build_encoders(out / "checkpoints" / "encoders"),
        "fusion": build_fusion(out / "checkpoints" / "fusion", features),
        "checkpoints": out / "checkpoints",
        "samples": build_samples(out / "samples"),
        "features": features,
    }


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/dev-assets")
    for name, path in build_all(target).items():
        print(f"{name}: {path}")
