"""How far the audio tower is from the voices-in-a-room target, and what stands in the way. A diagnostic: nothing
here is part of the shipped model.

    .venv/bin/python benchmarks/room_ceiling.py read DIR [TOWER ...] [--half val|test|all] [--json FILE]

`read` scores a held-out rooms set by noise kind (pink, fan hum, other talkers) and SNR band (0-7, 7-14,
14-20 dB), two ways:

  app    the recording through the app (`predict(audio=path)`: louder channel, trim, window);
  word   the same recording cut to the word: the generator's own silences around it removed, so the word's place
         is known exactly (what a perfect word finder would give); the noise over the word stays.

DIR is `data/heldout` or a second rendering (`python -m aecf heldout build --seed 1 --per-set 1000 --sets voices
voices_room --out DIR`: "val2", for choices only); TOWER is an encoders directory, or "shipped" (the default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aecf.data.heldout.sets import items  # noqa: E402
from aecf.encoders import load_encoders  # noqa: E402
from aecf.errors import InputError  # noqa: E402
from aecf.inference import load  # noqa: E402

BANDS = ((0.0, 7.0), (7.0, 14.0), (14.0, 20.01))
KINDS = ("pink", "fan", "babble")
WAYS = ("app", "word")


def word_only(path: Path, info: dict) -> tuple[np.ndarray, int]:
    """The recording's louder channel between the silences the generator put around the word."""
    wave, sr = sf.read(path, dtype="float32", always_2d=True)
    channel = wave[:, int(np.argmax(np.square(wave, dtype=np.float64).sum(axis=0)))]
    pre, post = info["silence_s"]
    return channel[int(pre * sr) : len(channel) - int(post * sr)].copy(), int(sr)


def score_rows(model, root: Path, half: str | None) -> list[dict]:
    """One row per recording: its noise kind, SNR, and whether each way read the digit (a refusal is wrong)."""
    recordings = items(root, "voices_room", half)
    if recordings and "noise" not in recordings[0][2]:
        raise SystemExit(
            f"{Path(root) / 'voices_room'} was built before the noise kind was recorded: delete that "
            "folder and run `python -m aecf heldout build` again (same seed: the same recordings)."
        )
    rows = []
    for path, label, info in recordings:
        row = {"noise": info["noise"], "snr_db": info["snr_db"]}
        for way in WAYS:
            try:
                source = path if way == "app" else word_only(path, info)
                row[way] = int(np.argmax(model.predict(audio=source, mc_samples=2).experts["audio"])) == label
            except InputError:
                row[way] = False
        rows.append(row)
    return rows


def _mean(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 3) if flags else None


def summarise(rows: list[dict]) -> dict:
    """{way: {"all": acc, "n": count, kind: [acc per SNR band]}} (None where a cell is empty)."""
    out = {}
    for way in WAYS:
        table = {"all": _mean([r[way] for r in rows]), "n": len(rows)}
        for kind in KINDS:
            table[kind] = [
                _mean([r[way] for r in rows if r["noise"] == kind and lo <= r["snr_db"] < hi])
                for lo, hi in BANDS
            ]
        out[way] = table
    return out


def _load_model(tower: str):
    return load() if tower == "shipped" else load(encoders=load_encoders(tower))


def read(args) -> int:
    half = None if args.half == "all" else args.half
    report = {}
    for tower in args.towers or ["shipped"]:
        report[tower] = summarise(score_rows(_load_model(tower), args.dir, half))
        for way in WAYS:
            t = report[tower][way]
            cells = "  ".join(
                f"{k} {' / '.join('-' if a is None else f'{a:.2f}' for a in t[k])}" for k in KINDS
            )
            print(f"{tower}  {way:4s}  all {t['all']:.3f} (n={t['n']})  {cells}", flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"dir": str(args.dir), "half": args.half, "bands_db": BANDS, "towers": report}, indent=1
            )
            + "\n"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "read", help="score a rooms set by noise kind and SNR, through the app and cut to the word"
    )
    r.add_argument("dir", type=Path, help="a held-out root holding voices_room/ (data/heldout, or val2)")
    r.add_argument("towers", nargs="*", help='encoders directories, or "shipped" (default)')
    r.add_argument("--half", choices=("val", "test", "all"), default="val")
    r.add_argument("--json", default=None)
    args = p.parse_args(argv)
    return read(args)


if __name__ == "__main__":
    sys.exit(main())
