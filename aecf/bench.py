"""`python -m aecf bench [--json FILE] [--quick]`: speed and memory of the fusion layer and its encoders.

(a) fusion-layer time over frozen-encoder time per example: our shipped towers, and a ViT-B-32-sized
    open_clip (random weights: same compute as the real one; 512-d embeddings into an AECF layer of the
    shipped width);
(b) one `predict()` on cached embeddings with every subset and K = 20 MC-dropout passes;
(c) training throughput (examples/s) at the K used in training, on the shipped feature cache;
(d) peak resident memory of the process;
(e) scale: AECF training examples/s on a generated 100,000-example, 3-modality x 512-d float32 dataset
    read memory-mapped from disk, beside the digits cache's in the same run (goal >= 0.5x), and the
    training process's peak memory against the dataset's bytes (goal <= 2x). Each run is its own process
    (`--scale-child`), so its peak memory is its own; a run trains `--scale-steps` steps, then calibrates
    (the lambda knots over the whole training split) as a full run does.

Timings are medians over repeats after a warm-up; the machine is shared, so read them as ±20 %.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from aecf.data.cache import load_split
from aecf.data.dataset import read_dataset, read_spec
from aecf.data.generated import generate_dataset
from aecf.encoders import load_encoders
from aecf.encoders.clip import load_clip, to_clip_pixels
from aecf.errors import InputError
from aecf.fusion import FusionConfig, FusionModel
from aecf.inference import load
from aecf.paths import BENCH_DATA_DIR, FEATURE_DIR
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


SCALE_DIMS = {"image": 512, "text": 512, "audio": 512}
SCALE_N = 100_000
SCALE_CONTROL_N = 12_000  # the same width, as many rows as the digits, in memory: what width alone costs


def scale_dataset(n: int = SCALE_N, compress: bool = False) -> Path:
    """A generated 3 x 512 dataset of n training rows (built once into data/bench/, reused while it fits):
    stored (memory-mapped) by default; compressed (read into memory) for the same-width control."""
    directory = BENCH_DATA_DIR / f"generated-{n}x3x512{'-compressed' if compress else ''}"
    name = f"bench-scale-{n}"
    try:
        if read_spec(directory).name == name and all(
            (directory / f).is_file() for f in ("train.npz", "test.npz")
        ):
            return directory
    except InputError:
        pass
    return generate_dataset(
        directory, SCALE_DIMS, n_train=n, n_test=2000, num_classes=10, name=name, compress=compress
    )


class MemorySampler:
    """The process's resident memory every `every` seconds, split as Linux counts it: anonymous (copies the
    process made) and file-backed (mapped files: the memory-mapped dataset, the libraries); peaks kept."""

    def __init__(self, every: float = 0.05):
        self.every, self.peak_anon, self.peak_file = every, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> dict[str, float]:
        try:
            lines = Path("/proc/self/status").read_text().splitlines()
        except OSError:
            return {}
        kb = {
            k: float(v.split()[0])
            for k, v in (ln.split(":", 1) for ln in lines)
            if k in ("RssAnon", "RssFile", "VmRSS", "VmHWM")
        }
        return {k: v / 1024 for k, v in kb.items()}

    def _run(self):
        while not self._stop.is_set():
            m = self.now()
            self.peak_anon = max(self.peak_anon, m.get("RssAnon", 0.0))
            self.peak_file = max(self.peak_file, m.get("RssFile", 0.0))
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def scale_child(data: str, steps: int) -> dict:
    """One training run in this process (`--scale-child`): AECF for `steps` steps (then validation and
    calibration, as in any run) on `data`; examples/s over the step records after the first (warm-up); the
    peak resident memory, the resident memory after the imports (torch alone maps ~700 MB of libraries
    here) and the sampled peaks of anonymous and file-backed memory. Read from /proc/self/status (VmHWM: the
    peak of this process image; ru_maxrss would carry the parent's peak across fork and exec)."""
    torch.set_num_threads(1)
    baseline = MemorySampler.now()
    with MemorySampler() as sampler:
        t0 = time.perf_counter()
        dataset = read_dataset(data, allow_absent_classes=True)
        read_seconds = time.perf_counter() - t0
        tr, va = dataset.split("train"), dataset.split("val")
        stop = threading.Event()
        records = []

        def on_step(rec):
            records.append(rec)
            if rec["step"] >= steps:
                stop.set()

        config = make_config("aecf", epochs=max(1, -(-steps * 256 // len(tr))), log_every=10)
        t0 = time.perf_counter()
        train(config, tr, va, callbacks={"on_step": on_step}, stop_event=stop)
        seconds = time.perf_counter() - t0
    rates = [r["examples_per_s"] for r in records[1:]] or [r["examples_per_s"] for r in records]
    return {
        "examples_per_s": float(statistics.median(rates)),
        "steps": records[-1]["step"] if records else 0,
        "train_rows": len(tr),
        "dataset_mb": dataset.nbytes() / 2**20,
        "memory_mapped": any(isinstance(f, np.memmap) for f in tr.features),
        "read_validate_s": read_seconds,
        "seconds": seconds,
        "peak_memory_mb": MemorySampler.now().get("VmHWM", float("nan")),
        "baseline_memory_mb": baseline.get("VmRSS", float("nan")),
        "baseline_anon_mb": baseline.get("RssAnon"),
        "peak_anon_mb": sampler.peak_anon,
        "peak_file_mb": sampler.peak_file,
    }


def bench_scale(steps: int = 100, n: int = SCALE_N) -> dict:
    """(e): the digits cache, the generated scale dataset, the digits cache again (the machine's load moves),
    each trained in a fresh process."""

    def child(data) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "aecf.bench", "--scale-child", str(data), "--scale-steps", str(steps)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    t0 = time.perf_counter()
    big_dir, small_dir = scale_dataset(n), scale_dataset(SCALE_CONTROL_N, compress=True)
    generate_s = time.perf_counter() - t0
    before, big, control, after = child(FEATURE_DIR), child(big_dir), child(small_dir), child(FEATURE_DIR)
    digits_rate = statistics.mean([before["examples_per_s"], after["examples_per_s"]])
    return {
        "digits": before,
        "digits_again": after,
        "scale": big,
        "same_width_in_memory": control,
        "generate_s": generate_s,
        "speed_ratio": big["examples_per_s"] / digits_rate,
        "speed_ratio_same_width": big["examples_per_s"] / control["examples_per_s"],
        "memory_ratio": big["peak_memory_mb"] / big["dataset_mb"],
        "added_memory_ratio": (big["peak_memory_mb"] - big["baseline_memory_mb"]) / big["dataset_mb"],
        "anon_memory_ratio": (big["peak_anon_mb"] - (big["baseline_anon_mb"] or 0)) / big["dataset_mb"],
        "steps": steps,
    }


def peak_memory_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(quick: bool = False, scale: bool = True, scale_steps: int = 100) -> dict:
    torch.manual_seed(0)
    np.random.seed(0)
    results = {
        "torch_threads": torch.get_num_threads(),
        "layer_vs_encoders": bench_layer_vs_encoders(repeats=3 if quick else 5, big=not quick),
        "predict": bench_predict(repeats=5 if quick else 20),
        "training": bench_training(epochs=1),
    }
    results["peak_memory_mb"] = peak_memory_mb()
    if scale:
        results["scale"] = bench_scale(scale_steps)
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
    if "scale" in r:
        lines.append(format_scale(r["scale"]))
    return "\n".join(lines)


def format_scale(s: dict) -> str:
    d, d2, b = s["digits"], s["digits_again"], s["scale"]
    return "\n".join(
        [
            f"scale: AECF training on {b['train_rows']:,} generated rows x 3 x 512 ({b['dataset_mb']:.0f} MiB of "
            f"features, memory-mapped: {b['memory_mapped']}): {b['examples_per_s']:.0f} examples/s vs the digits "
            f"cache {d['examples_per_s']:.0f} / {d2['examples_per_s']:.0f} (before / after) -> "
            f"{s['speed_ratio']:.2f}x (goal >= 0.5x)",
            f"scale: peak memory of that process {b['peak_memory_mb']:.0f} MiB = {s['memory_ratio']:.2f}x the "
            f"dataset's bytes (goal <= 2x); {b['baseline_memory_mb']:.0f} MiB of it before reading any data "
            f"(imports), so training added {s['added_memory_ratio']:.2f}x; anonymous memory (copies) peaked "
            f"{b['peak_anon_mb'] - (b['baseline_anon_mb'] or 0):.0f} MiB above the imports' "
            f"({s['anon_memory_ratio']:.2f}x), mapped files {b['peak_file_mb']:.0f} MiB",
            f"scale: the same width in memory ({s['same_width_in_memory']['train_rows']:,} rows, compressed file): "
            f"{s['same_width_in_memory']['examples_per_s']:.0f} examples/s -> the memory-mapped 100,000 rows run at "
            f"{s['speed_ratio_same_width']:.2f}x of it",
            f"scale: the digits runs peaked at {d['peak_memory_mb']:.0f} / {d2['peak_memory_mb']:.0f} MiB",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecf bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, skip the ViT-B-32 part")
    parser.add_argument("--no-scale", action="store_true", help="skip (e), the 100,000-example dataset")
    parser.add_argument("--scale-only", action="store_true", help="only (e)")
    parser.add_argument("--scale-steps", type=int, default=100, help="training steps of each (e) run")
    parser.add_argument("--scale-child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_child:
        print(json.dumps(scale_child(args.scale_child, args.scale_steps)))
        return 0
    if args.scale_only:
        results = {"scale": bench_scale(args.scale_steps)}
        print(format_scale(results["scale"]))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    results = run(quick=args.quick, scale=not args.no_scale, scale_steps=args.scale_steps)
    print(format_report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
