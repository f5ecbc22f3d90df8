"""The held-out sets: their names, halves and sizes, and the `manifest.json` that lists a set's items."""

from __future__ import annotations

import json
from pathlib import Path

SETS: tuple[str, ...] = ("handwriting", "photos", "canvas", "voices", "voices_room")
HALVES: tuple[str, ...] = ("val", "test")
IMAGE_SETS = ("handwriting", "photos", "canvas")
AUDIO_SETS = ("voices", "voices_room")
DEFAULT_PER_SET = {"handwriting": 1000, "photos": 600, "canvas": 600, "voices": 400, "voices_room": 400}
MANIFEST = "manifest.json"
VERSION = 1


def half_of(i: int) -> str:
    return HALVES[i % 2]


def write_manifest(root: Path, name: str, items: list[dict], seed: int) -> None:
    d = root / name
    (d / MANIFEST).write_text(
        json.dumps(
            {"set": name, "version": VERSION, "seed": seed, "halves": list(HALVES), "items": items}, indent=1
        )
        + "\n"
    )


def manifest(root: Path, name: str) -> dict | None:
    path = Path(root) / name / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def items(root: Path, name: str, half: str | None = "test") -> list[tuple[Path, int, dict]]:
    m = manifest(root, name)
    if m is None:
        raise FileNotFoundError(
            f"{Path(root) / name / MANIFEST} not found: run `python -m aecf heldout build`."
        )
    return [
        (Path(root) / name / it["file"], int(it["label"]), it)
        for it in m["items"]
        if half is None or it["half"] == half
    ]
