"""`python -m aecf encoders report [--json FILE] [--data DIR]`: how good are the frozen encoders?

clean      zero-shot accuracy (nearest class prompt) on clean test inputs: MNIST test images, every
           exact caption of the grammar, the clean clips of the test voices.
benchmark  linear-probe accuracy (multinomial logistic regression on frozen embeddings) on the
           *corrupted* benchmark: fitted on benchmark train, scored on benchmark test; per modality
           and on the three embeddings concatenated. The benchmark is meant to make every modality
           alone unreliable and the three together strong.
heldout    accuracy on the `test` halves of our held-out real-input sets (`aecf.data.heldout`: font
           handwriting, photos, canvas drawings, festival voices clean and in a room), each input
           alone through the public `aecf.load().predict` (the preprocessing an upload gets), scored
           by that modality's own zero-shot opinion. Built into data/heldout/ first if absent.

The numbers are fractions in [0, 1]; TARGETS holds what the project expects of them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from aecf.constants import MODALITIES, NUM_CLASSES
from aecf.data.cache import load_split
from aecf.data.captions import exact_captions
from aecf.data.features import encode_digits_split, load_npz
from aecf.data.heldout.build import build_heldout
from aecf.data.heldout.sets import IMAGE_SETS, SETS, items
from aecf.data.mnist import load_mnist
from aecf.encoders import load_encoders
from aecf.errors import InputError
from aecf.inference import load
from aecf.paths import BENCHMARK_DIR, HELDOUT_DIR

TARGETS = {
    "clean": {"image": (0.98, 1.0), "caption": (0.99, 1.0), "audio": (0.95, 1.0)},
    "benchmark": {"image": (0.60, 0.85), "caption": (0.35, 0.75), "audio": (0.55, 0.85), "all": (0.95, 1.0)},
    "heldout": {
        "handwriting": (0.97, 1.0),
        "photos": (0.95, 1.0),
        "canvas": (0.98, 1.0),
        "voices": (0.95, 1.0),
        "voices_room": (0.90, 1.0),
    },
}


def linear_probe(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    l2: float = 1e-4,
    steps: int = 200,
    seed: int = 0,
) -> float:
    """Test accuracy of an L2-regularised multinomial logistic regression (full-batch L-BFGS).

    Features are standardised with the train statistics."""
    torch.manual_seed(seed)
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    xtr, xte = (x_train - mean) / std, (x_test - mean) / std
    w = torch.zeros(xtr.shape[1], NUM_CLASSES, requires_grad=True)
    b = torch.zeros(NUM_CLASSES, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xtr @ w + b, y_train) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((xte @ w + b).argmax(1) == y_test).float().mean())


def _acc(probs: torch.Tensor, labels) -> float:
    return float((probs.argmax(1) == torch.as_tensor(labels)).float().mean())


def clean_accuracy(encoders, data_dir: Path) -> dict[str, float]:
    x, y = load_mnist("test")
    image = _acc(encoders.zero_shot(encoders.encode_image(torch.from_numpy(x).float().div(255)[:, None])), y)
    texts, labels = zip(*[(c, d) for d in range(NUM_CLASSES) for c in exact_captions(d)], strict=True)
    caption = _acc(encoders.zero_shot(encoders.encode_text(list(texts))), labels)
    with np.load(data_dir / "clips.npz", allow_pickle=False) as z:  # each z[...] decompresses anew
        keep = np.nonzero(z["split"] == "test")[0]
        audio, length, clip_labels = z["audio"][keep], z["length"][keep], z["label"][keep]
    waves = [audio[i, : length[i]] for i in range(len(keep))]
    audio = _acc(encoders.zero_shot(encoders.encode_waves(waves)), clip_labels)
    return {"image": image, "caption": caption, "audio": audio}


def benchmark_embeddings(encoders, data_dir: Path, split: str, limit: int) -> dict[str, np.ndarray]:
    clips = load_npz(data_dir / "clips.npz", ("audio", "length"))
    raw = load_npz(data_dir / f"{split}.npz")
    if limit > 0:
        raw = {k: v[:limit] for k, v in raw.items()}
    emb = encode_digits_split(raw, clips, encoders, desc=split)
    emb["label"] = raw["label"]
    return emb


def _cached_embeddings(feature_dir: Path, split: str) -> dict[str, np.ndarray]:
    fs = load_split(split, feature_dir)
    out = {m: fs.x[:, i].numpy() for i, m in enumerate(fs.modalities)}
    out["label"] = fs.label.numpy()
    return out


def benchmark_accuracy(train: dict, test: dict) -> dict[str, float]:
    ytr, yte = torch.as_tensor(train["label"]), torch.as_tensor(test["label"])
    result = {}
    for m in MODALITIES:
        result[m] = linear_probe(
            torch.as_tensor(train[m]).float(), ytr, torch.as_tensor(test[m]).float(), yte
        )
    cat = lambda d: torch.cat([torch.as_tensor(d[m]).float() for m in MODALITIES], 1)  # noqa: E731
    result["all"] = linear_probe(cat(train), ytr, cat(test), yte)
    return result


def benchmark_zero_shot(encoders, test: dict) -> dict[str, float]:
    return {m: _acc(encoders.zero_shot(torch.as_tensor(test[m]).float()), test["label"]) for m in MODALITIES}


def heldout_accuracy(
    model,
    root: Path = HELDOUT_DIR,
    half: str = "test",
    sets: tuple[str, ...] = SETS,
    details: dict | None = None,
) -> dict[str, float]:
    """Accuracy of each set's half through `model.predict` (one modality at a time, its expert's argmax).

    An input the preprocessing refuses (InputError) counts as wrong. `details` (a dict) receives
    per-source accuracies and the refusals."""
    out = {}
    for name in sets:
        modality = "image" if name in IMAGE_SETS else "audio"
        correct, total, refused = 0, 0, 0
        by_src: dict[str, list[int]] = {}
        for path, label, info in items(root, name, half):
            try:
                r = model.predict(**{modality: path}, mc_samples=2)
                ok = int(int(np.argmax(r.experts[modality])) == label)
            except InputError:
                ok, refused = 0, refused + 1
            correct += ok
            total += 1
            key = info.get("voice") or info.get("kind") or "all"
            by_src.setdefault(key, [0, 0])
            by_src[key][0] += ok
            by_src[key][1] += 1
        out[name] = correct / max(1, total)
        if details is not None:
            details[name] = {
                "n": total,
                "refused": refused,
                "by_source": {k: round(c / t, 4) for k, (c, t) in sorted(by_src.items())},
            }
    return out


def heldout_report(encoders, root: Path | None = None) -> tuple[dict[str, float], dict]:
    """Accuracy on the test halves of the held-out sets through `aecf.load().predict` (the same
    `aecf.inference.load`, given these encoders)."""
    root = Path(root) if root is not None else HELDOUT_DIR
    build_heldout(root)
    model = load(encoders=encoders)
    details: dict = {"half": "test", "root": str(root)}
    acc = heldout_accuracy(model, root, "test", details=details)
    return acc, details


def format_report(report: dict) -> str:
    lines = []
    for section in ("clean", "benchmark", "heldout"):
        for key, value in report.get(section, {}).items():
            lo, hi = TARGETS[section][key]
            ok = "ok" if lo <= value <= hi else ("LOW" if value < lo else "HIGH")
            lines.append(f"  {section:<9} {key:<12} {value:.4f}   target {lo:.2f}-{hi:.2f}  {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aecf encoders report", description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path, default=None, help="also write the report to this JSON file")
    p.add_argument("--data", type=Path, default=BENCHMARK_DIR, help="raw benchmark directory")
    p.add_argument(
        "--features",
        type=Path,
        default=None,
        help="read benchmark embeddings from this feature cache instead of encoding --data",
    )
    p.add_argument(
        "--train-limit", type=int, default=12_000, help="benchmark train samples for the probe (0 = all)"
    )
    p.add_argument("--checkpoint-dir", type=Path, default=None)
    p.add_argument(
        "--heldout", type=Path, default=None, help="held-out sets (default data/heldout, built if absent)"
    )
    p.add_argument("--no-heldout", action="store_true", help="skip the held-out sets")
    args = p.parse_args(argv)

    t0 = time.time()
    encoders = load_encoders() if args.checkpoint_dir is None else load_encoders(args.checkpoint_dir)
    clean = clean_accuracy(encoders, args.data)
    if args.features is not None:
        train, test = _cached_embeddings(args.features, "train"), _cached_embeddings(args.features, "test")
    else:
        train = benchmark_embeddings(encoders, args.data, "train", args.train_limit)
        test = benchmark_embeddings(encoders, args.data, "test", 0)
    heldout, heldout_details = {}, {}
    if not args.no_heldout:
        heldout, heldout_details = heldout_report(encoders, args.heldout)
    report = {
        "clean": clean,
        "benchmark": benchmark_accuracy(train, test),
        "heldout": heldout,
        "details": {
            "heldout": heldout_details,
            "benchmark_zero_shot": benchmark_zero_shot(encoders, test),
            "probe_train_samples": len(train["label"]),
            "test_samples": len(test["label"]),
            "seconds": round(time.time() - t0, 1),
        },
    }
    print("encoder report (fractions; clean = zero-shot, benchmark = linear probe on corrupted inputs)")
    print(format_report(report))
    print(json.dumps(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0
