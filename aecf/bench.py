"""`python -m aecf bench [--json FILE] [--quick]`: speed and memory of the fusion layer and its encoders.

(a) fusion-layer time over frozen-encoder time per example: our shipped towers, and a ViT-B-32-sized
    open_clip (random weights: same compute as the real one; 512-d embeddings into an AECF layer of the
    shipped width);
(b) one `predict()` on cached embeddings with every subset and K = 20 MC-dropout passes;
(c) training throughput (examples/s) at the K used in training, on the shipped feature cache;
(d) peak resident memory of the process.

Timings are medians over repeats after a warm-up; the machine is shared, so read them as ±20 %.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aecf.data.cache import load_split
from aecf.encoders import load_encoders
from aecf.encoders.clip import load_clip, to_clip_pixels
from aecf.fusion import FusionConfig, FusionModel
from aecf.inference import load
from aecf.train import make_config, train


def _median_seconds(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _fusion_layer_seconds(model, batch: int, repeats: int) -> float:
    """One eval forward of the fusion layer over a batch of all-present embeddings (per example)."""
    x = torch.randn(batch, model.config.num_modalities, model.config.embed_dim)
    present = torch.ones(batch, model.config.num_modalities, dtype=torch.bool)
    model.eval()
    with torch.no_grad():
        return _median_seconds(lambda: model(x, present), repeats) / batch


def bench_layer_vs_encoders(batch: int = 32, repeats: int = 5, big: bool = True) -> dict:
    out: dict = {"batch": batch}
    enc = load_encoders()
    model = load().fusion
    images = torch.rand(batch, 1, 28, 28)
    captions = ["a handwritten seven, an odd number"] * batch
    mels = torch.randn(batch, enc.mel.n_mels, enc.mel.n_frames)
    with torch.no_grad():
        t_img = _median_seconds(lambda: enc.encode_image(images), repeats) / batch
        t_txt = _median_seconds(lambda: enc.encode_text(captions), repeats) / batch
        # one tower pass per test-time speed (Encoders.audio_speeds)
        t_aud = _median_seconds(lambda: enc._over_speeds(lambda _s: enc.encode_audio(mels)), repeats) / batch
    t_layer = _fusion_layer_seconds(model, batch, repeats * 4)
    enc_total = t_img + t_txt + t_aud
    out["shipped"] = {
        "encoder_ms_per_example": {"image": 1e3 * t_img, "caption": 1e3 * t_txt, "audio": 1e3 * t_aud},
        "encoders_ms_per_example": 1e3 * enc_total,
        "fusion_layer_ms_per_example": 1e3 * t_layer,
        "layer_over_encoders": t_layer / enc_total,
    }
    if big:
        clip, _, tokenizer = load_clip("ViT-B-32")
        size = clip.visual.image_size
        size = size[0] if isinstance(size, tuple | list) else size
        pixels = to_clip_pixels(torch.rand(batch, 1, 28, 28), clip)
        assert pixels.shape[-1] == size
        tokens = tokenizer(captions)
        with torch.no_grad():
            t_img_b = (
                _median_seconds(lambda: clip.encode_image(pixels), max(2, repeats // 2), warmup=1) / batch
            )
            t_txt_b = (
                _median_seconds(lambda: clip.encode_text(tokens), max(2, repeats // 2), warmup=1) / batch
            )
        big_cfg = FusionConfig(
            method="aecf",
            modalities=("image", "caption"),
            embed_dim=clip.text_projection.shape[1],
            hidden_dim=model.config.hidden_dim,
            gate_hidden=model.config.gate_hidden,
        )
        t_layer_b = _fusion_layer_seconds(FusionModel(big_cfg), batch, repeats * 4)
        out["vit_b_32"] = {
            "encoder_ms_per_example": {"image": 1e3 * t_img_b, "caption": 1e3 * t_txt_b},
            "encoders_ms_per_example": 1e3 * (t_img_b + t_txt_b),
            "fusion_layer_ms_per_example": 1e3 * t_layer_b,
            "layer_over_encoders": t_layer_b / (t_img_b + t_txt_b),
            "embed_dim": big_cfg.embed_dim,
        }
    return out


def bench_predict(repeats: int = 20, mc_samples: int = 20) -> dict:
    """predict() on cached embeddings: every subset of the three modalities, K MC-dropout passes."""
    model = load()
    split = load_split("test")
    emb = {m: split.x[0, i].numpy() for i, m in enumerate(split.modalities)}
    seconds = _median_seconds(lambda: model.predict_embeddings(emb, mc_samples=mc_samples), repeats, warmup=3)
    r = model.predict_embeddings(emb, mc_samples=mc_samples)
    return {"ms": 1e3 * seconds, "mc_samples": mc_samples, "subsets": len(r.subsets)}


def bench_training(epochs: int = 1, method: str = "aecf") -> dict:
    tr, va = load_split("train"), load_split("val")
    config = make_config(method, epochs=epochs, seed=0)
    t0 = time.perf_counter()
    train(config, tr, va)
    seconds = time.perf_counter() - t0
    return {
        "method": method,
        "mc_samples": config.mc_samples,
        "epochs": epochs,
        "train_examples": len(tr),
        "seconds": seconds,
        "examples_per_s": epochs * len(tr) / seconds,
    }


def peak_memory_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(quick: bool = False) -> dict:
    torch.manual_seed(0)
    np.random.seed(0)
    results = {
        "torch_threads": torch.get_num_threads(),
        "layer_vs_encoders": bench_layer_vs_encoders(repeats=3 if quick else 5, big=not quick),
        "predict": bench_predict(repeats=5 if quick else 20),
        "training": bench_training(epochs=1),
    }
    results["peak_memory_mb"] = peak_memory_mb()
    return results


def format_report(r: dict) -> str:
    lines = []
    lv = r["layer_vs_encoders"]
    for key, title in (("shipped", "shipped encoders"), ("vit_b_32", "ViT-B-32-sized open_clip")):
        if key in lv:
            b = lv[key]
            lines.append(
                f"{title}: encoders {b['encoders_ms_per_example']:.3f} ms/example, AECF layer "
                f"{b['fusion_layer_ms_per_example']:.4f} ms/example -> layer/encoders = {100 * b['layer_over_encoders']:.2f} %"
            )
    p = r["predict"]
    lines.append(f"predict() with {p['subsets']} subsets and K = {p['mc_samples']}: {p['ms']:.2f} ms")
    t = r["training"]
    lines.append(f"training ({t['method']}, K = {t['mc_samples']}): {t['examples_per_s']:.0f} examples/s")
    lines.append(f"peak memory: {r['peak_memory_mb']:.0f} MB (torch threads: {r['torch_threads']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecf bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, skip the ViT-B-32 part")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    print(format_report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
