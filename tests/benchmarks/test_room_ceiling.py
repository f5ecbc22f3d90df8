"""benchmarks/room_ceiling.py: each recording read whole (as the app does) and cut to its word, by noise kind and
SNR band (the score of real towers is a measurement, not a test)."""

from __future__ import annotations

import io
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from aecf.data.heldout.build import build_heldout
from aecf.data.heldout.sets import MANIFEST, items
from benchmarks.room_ceiling import score_rows, summarise, word_only


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    build_heldout(root, {"voices_room": 12}, seed=3, sets=("voices_room",))
    return root


class _WordOnlyModel:
    """Reads 3 from a recording cut to its word (an array) and 0 from a whole file."""

    def predict(self, audio=None, mc_samples=20):
        return SimpleNamespace(experts={"audio": np.eye(10)[3 if isinstance(audio, tuple) else 0]})


def test_room_ceiling_reads_each_recording_whole_and_cut_to_its_word(rooms):
    for path, _, info in items(rooms, "voices_room", None):
        wave, sr = sf.read(io.BytesIO(path.read_bytes()), always_2d=True)
        word, word_sr = word_only(path, info)
        cut = sum(int(s * sr) for s in info["silence_s"])
        assert word_sr == sr and len(word) == len(wave) - cut  # only the generator's silences go
    rows = score_rows(_WordOnlyModel(), rooms, None)
    labels = [y for _, y, _ in items(rooms, "voices_room", None)]
    table = summarise(rows)
    assert table["app"]["n"] == len(labels)
    assert table["app"]["all"] == pytest.approx(np.mean([y == 0 for y in labels]), abs=1e-3)
    assert table["word"]["all"] == pytest.approx(np.mean([y == 3 for y in labels]), abs=1e-3)
    kinds = {r["noise"] for r in rows}
    for kind in ("pink", "fan", "babble"):
        cells = table["word"][kind]
        assert len(cells) == 3 and all(c is None or 0.0 <= c <= 1.0 for c in cells)
        assert (kind in kinds) == any(c is not None for c in cells)


def test_room_ceiling_asks_for_a_rebuild_of_a_set_without_noise_kinds(rooms, tmp_path):
    shutil.copytree(rooms / "voices_room", tmp_path / "voices_room")
    m = json.loads((tmp_path / "voices_room" / MANIFEST).read_text())
    for it in m["items"]:
        del it["noise"]
    (tmp_path / "voices_room" / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(SystemExit, match="heldout build"):
        score_rows(_WordOnlyModel(), tmp_path, None)
