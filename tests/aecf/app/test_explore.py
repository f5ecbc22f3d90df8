"""The Explore view-model (aecf/app/explore.py) says when an input cannot mean what the model makes of it: audio
that is not speech, a caption cut to the limit (and where it was given), a caption with no word the caption
tower knows; each note carries the weight the gate still gives that input."""

from __future__ import annotations

import re

import pytest

from tests.support.sounds import noise_bursts, pulsing_tune

SR = 16000


def _view(**inputs):
    from aecf.app.checkpoints import load_model
    from aecf.app.explore import ExploreInputs, explore
    from aecf.app.samples import default_samples, list_samples, sample_path

    img, aud = default_samples(list_samples("image"), list_samples("audio"))
    given = {"image": sample_path(img), "caption": "a seven", "audio": sample_path(aud)} | inputs
    return explore(load_model, "", ExploreInputs(**given), baseline_key="late_fusion")


def _gate(view, modality: str) -> float:
    return next(w for text, w in view.gate if text.startswith(f"{modality}:"))


# -------------------------------------------------------------------------------------------- audio


@pytest.mark.parametrize(
    ("sound", "why"),
    [(pulsing_tune, "musical notes"), (noise_bursts, "regular beat")],
    ids=["8 s tune of 0.25 s notes", "rhythmic noise bursts"],
)
def test_audio_that_is_not_speech_is_told_so_with_the_gates_weight_on_it(app_env, sound, why):
    view = _view(audio=(sound(), SR))
    assert view.prediction is not None and "audio" in view.prediction.present  # still read, and fused
    note = view.notes["audio"]
    assert note.level == "warning" and "does not sound like speech" in note.message and why in note.message
    assert f"p = {_gate(view, 'audio'):.2f}" in note.message  # the weight the gate bars show
    assert "noisy" not in note.message  # not told that the *word* is noisy: there is no word


def test_the_shipped_recordings_get_no_audio_note(app_env):
    from aecf.app.samples import list_samples, sample_path

    for name in list_samples("audio"):
        view = _view(audio=sample_path(name))
        note = view.notes.get("audio")
        assert note is None or "does not sound like speech" not in note.message, name


def test_without_a_gate_the_note_says_the_audio_counts_as_much_as_the_rest():
    from aecf.app.explore import not_speech_note

    assert "no gate" in not_speech_note("tonal", None) and "musical notes" in not_speech_note("tonal", None)
    assert "p = 0.51" in not_speech_note("beat", 0.512)


# -------------------------------------------------------------------------------------------- captions


@pytest.mark.parametrize(
    "caption", ["🙂🙂🙂", "семь", "#@%&* ~~"], ids=["emoji", "another script", "symbols"]
)
def test_a_caption_with_no_word_the_tower_knows_is_told_so_with_the_gates_weight(app_env, caption):
    view = _view(caption=caption)
    note = view.notes["caption"]
    assert note.level == "warning" and "knows none of these words" in note.message
    assert f"p = {_gate(view, 'caption'):.2f}" in note.message
    assert "caption" not in _view(caption="a seven").notes
    assert "caption" not in _view(caption="a 7, I think").notes  # one known word is enough


def test_a_caption_over_the_limit_is_cut_and_the_note_says_where_it_was_given(app_env):
    from aecf.app.explore import MAX_CAPTION_CHARS

    long = "seven " * 500  # 3,000 characters
    for given, where in (
        ("box", "pasted into the box"),
        ("link", "in the link"),
        (None, "The caption was cut"),
    ):
        view = _view(caption=long, caption_from=given)
        note = view.notes["caption"].message
        assert where in note and f"first {MAX_CAPTION_CHARS:,} characters (of 3,000)" in note, note
        assert view.caption_text == " ".join(long[:MAX_CAPTION_CHARS].split())  # what the model read


def test_the_box_keeps_the_first_characters_and_the_view_knows_they_were_cut():
    from aecf.app.explore import MAX_CAPTION_CHARS, caption_for_box, caption_given, clean_caption

    long = "x" * 3000
    box, cut = caption_for_box(long, "box")
    assert box == long[:MAX_CAPTION_CHARS] and cut == {"text": long, "from": "box"}
    assert caption_given(box, cut) == (long, "box")  # the view is given the whole text: it says "of 3,000"
    assert caption_given("a seven", cut) == ("a seven", "box")  # edited since: the cut is over
    assert caption_for_box("a seven", "link") == ("a seven", None)
    assert caption_given("a seven", None) == ("a seven", "box")
    text, note = clean_caption(long, "link")
    assert text == box and re.search(r"The caption in the link was cut to its first 1,000 characters", note)
