"""The Explore page's view-model: one example's raw inputs in, everything the page shows out.

    raw input (sample path / upload bytes / canvas pixels / recording) -> Model.embed_* (preprocessing,
    on-purpose corruption, frozen encoder; cached in the model by content) -> Model.predict_embeddings
    (fusion diagnostics, seeded MC-dropout) -> the same embeddings through a baseline -> `ExploreView`

`explore()` never raises on a person's input: a bad input becomes a `Problem` shown where it was given,
and the other modalities still run. It serves the digits checkpoints and the multi-label (COCO) ones; the
page renders the view it returns and computes nothing itself.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field, replace

import numpy as np
import soundfile as sf

from aecf.app.problems import Problem, describe
from aecf.app.state import SNR_CLEAN, SNR_MIN
from aecf.constants import MODALITIES, SAMPLE_RATE
from aecf.data.corruption import (
    MAX_ENERGY_REMOVED,
    MAX_NOISE_STD,
    MAX_OCCLUSION_SIDE,
    OCCLUSION_PROB,
    audio_severity,
)
from aecf.encoders.preprocess import NOISY_RECORDING_DB, NOT_SPEECH_REASONS, known_caption_words
from aecf.figures.app import mc_passes_svg, probs_svg
from aecf.figures.lattice import lattice_svg
from aecf.paths import encoder_dir

MAX_CAPTION_CHARS = 1000  # a caption is kept up to this many characters (box, link or call), all read
CAPTION_FROM = {"box": "pasted into the box", "link": "in the link"}  # where a caption came from, in words
TOP_K = 5  # labels shown for a multi-label (COCO) checkpoint
IMAGE_TYPES = ("png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff")  # what preprocess_image reads (PIL)
IMAGE_TYPES_TEXT = "PNG, JPEG, GIF, WebP, BMP or TIFF"
AUDIO_TYPES = ("wav", "flac", "ogg", "mp3")
AUDIO_TYPES_TEXT = "WAV, FLAC, OGG or MP3"
# the largest image or recording Explore's uploaders take (a 5-minute 16 kHz WAV is ~10 MB); the server's own
# limit (.streamlit/config.toml) is the Train page's, for dataset zips
INPUT_UPLOAD_MB = 25
# Unicode bidirectional controls (embeddings, overrides, isolates): one U+202E turns the rest of a caption
# around on screen while the model reads it in order; removed before anyone reads or shows the caption.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


# ------------------------------------------------------------------------------------ the request


@dataclass(frozen=True)
class ExploreInputs:
    """One view of Explore: the raw inputs (None = not given) and the view's settings."""

    image: object | None = None  # path | bytes | uint8 ndarray (a drawing)
    caption: str | None = None
    audio: object | None = None  # path | bytes
    caption_from: str | None = None  # where the caption was given: "box", "link" (CAPTION_FROM) or None
    image_on: bool = True
    caption_on: bool = True
    audio_on: bool = True
    image_severity: float = 0.0  # 0..1, the benchmark's image corruption
    audio_snr: float | None = None  # dB; None = no noise added
    seed: int = 0  # corruption and MC-dropout seed
    mc_samples: int = 20


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    help: str | None = None


@dataclass
class ExploreView:
    """Everything the page shows for one view. `prediction` is None when nothing can be fused
    (`warning` says why); `notes` holds each modality's message (missing input, bad input, cut caption)."""

    multilabel: bool = False
    fatal: Problem | None = None  # the checkpoint cannot be loaded: nothing else to show
    notes: dict[str, Problem] = field(default_factory=dict)
    warning: str | None = None
    prediction: object | None = None  # aecf.inference.Prediction
    baseline: object | None = None
    baseline_problem: Problem | None = None
    headline: str = ""
    metrics: list[Metric] = field(default_factory=list)
    compare: list[Metric] = field(default_factory=list)  # modalities used, the baseline's answer
    probs_svg: str = ""  # digits: class probabilities, model and baseline
    top_labels: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)  # COCO: (title, rows)
    gate: list[tuple[str, float]] = field(default_factory=list)  # (text, weight) per modality
    gate_note: str = ""
    lattices: list[str] = field(default_factory=list)  # SVGs: the model's, then the baseline's
    lattice_title: str = ""
    mc_tab: str = ""
    mc_svg: str = ""
    mc_caption: str = ""
    experts_svg: str = ""
    experts_bars: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)  # COCO
    experts_caption: str = ""
    caption_text: str | None = None

    @property
    def is_plain(self) -> bool:
        """True when the view is the results alone: no note, no message (the page draws it as one element)."""
        return (
            not any(self.notes.values())
            and self.fatal is None
            and not self.warning
            and self.baseline_problem is None
        )

    def model_sees(self) -> tuple[np.ndarray | None, np.ndarray | None, bytes | None]:
        """(the 28×28 image upscaled, the log-mel as an RGB image, WAV bytes of what the audio tower heard),
        each None when absent; computed only when asked (the page asks when its tab is open)."""
        pred = self.prediction
        if pred is None:
            return None, None, None
        return (
            None if pred.image_28 is None else upscale(pred.image_28),
            None if pred.logmel is None else logmel_image(pred.logmel),
            None if pred.wave is None else wav_bytes(pred.wave),
        )


# ------------------------------------------------------------------------------------ one click away

SEVERITY_STEP = 0.05  # the image corruption slider's step
SNR_STEP = 1.0  # the audio SNR slider's step (dB)
# The controls a view is one click away along, in the order of `view_key`: (field, digits of a slider's value
# in the key; None for a switch).
NEXT_CONTROLS = (
    ("image_on", None),
    ("caption_on", None),
    ("audio_on", None),
    ("image_severity", 2),
    ("audio_snr", 0),
)


def _control_value(inputs: ExploreInputs, name: str) -> float | bool:
    value = getattr(inputs, name)
    return SNR_CLEAN if name == "audio_snr" and value is None else value


def view_key(inputs: ExploreInputs) -> str:
    """The view's switches and sliders as one string, '1|1|0|0.15|30': the key under which the page's
    browser side finds a view it was sent ahead (pages/parts/ui.py builds the same key from the widgets)."""
    parts = []
    for name, digits in NEXT_CONTROLS:
        value = _control_value(inputs, name)
        parts.append(str(int(value)) if digits is None else f"{float(value):.{digits}f}")
    return "|".join(parts)


def one_click_away(inputs: ExploreInputs) -> list[ExploreInputs]:
    """The views one click from this one: each switch flipped, each slider one step left and right (within
    its range). Everything else (inputs, seed, K) stays."""
    out = [
        replace(inputs, **{name: not getattr(inputs, name)})
        for name, digits in NEXT_CONTROLS
        if digits is None
    ]
    for step in (-SEVERITY_STEP, SEVERITY_STEP):
        severity = round(inputs.image_severity + step, 2)
        if 0.0 <= severity <= 1.0:
            out.append(replace(inputs, image_severity=severity))
    snr = _control_value(inputs, "audio_snr")
    for step in (-SNR_STEP, SNR_STEP):
        if SNR_MIN <= snr + step <= SNR_CLEAN:
            out.append(replace(inputs, audio_snr=None if snr + step >= SNR_CLEAN else snr + step))
    return out


def slider_captions(inputs: ExploreInputs) -> dict[str, dict[str, str]]:
    """What the caption under each corruption slider says at its value and one step either way, by field and
    by the value as `view_key` writes it: sent ahead with the views, so that the caption follows a slider
    step the browser shows at once."""
    out: dict[str, dict[str, str]] = {}
    severity = inputs.image_severity
    out["image_severity"] = {
        f"{v:.2f}": image_corruption_text(v)
        for v in (round(severity + d, 2) for d in (-SEVERITY_STEP, 0.0, SEVERITY_STEP))
        if 0.0 <= v <= 1.0
    }
    snr = _control_value(inputs, "audio_snr")
    out["audio_snr"] = {
        f"{v:.0f}": audio_corruption_text(None if v >= SNR_CLEAN else v)
        for v in (snr - SNR_STEP, snr, snr + SNR_STEP)
        if SNR_MIN <= v <= SNR_CLEAN
    }
    return out


def explore_next(
    load, key: str, inputs: ExploreInputs, baseline_key: str | None = None, current: ExploreView | None = None
) -> dict[str, ExploreView]:
    """The plain views (`ExploreView.is_plain`) one click away from `inputs` (`one_click_away`), and
    `current` (the view of `inputs` itself, the way back), by `view_key`: the page sends them ahead, so that
    the browser can show the next view the moment the click lands, before the server has redrawn it.
    Computed like any view (the model caches the embeddings and predictions), after the current view is on
    screen."""
    out = {view_key(inputs): current} if current is not None and current.is_plain else {}
    for nxt in one_click_away(inputs):
        view = explore(load, key, nxt, baseline_key=baseline_key)
        if view.is_plain:
            out[view_key(nxt)] = view
    return out


# ------------------------------------------------------------------------------------ input helpers


def clean_caption(text: str | None, given: str | None = None) -> tuple[str | None, str | None]:
    """(caption for the model, a note saying what was removed or cut, or None). A caption over
    MAX_CAPTION_CHARS keeps its first MAX_CAPTION_CHARS characters; the note says where it was given (`given`,
    a key of CAPTION_FROM) and how long it was."""
    if text is None:
        return None, None
    notes = []
    cleaned = text.translate(_BIDI_CONTROLS)
    if cleaned != text:
        notes.append("removed text-direction control characters (they reorder the caption on screen)")
    if len(cleaned) > MAX_CAPTION_CHARS:
        notes.append(
            f"cut to its first {MAX_CAPTION_CHARS:,} characters (of {len(cleaned):,}), the longest caption this "
            f"page keeps; the rest is left out"
        )
        cleaned = cleaned[:MAX_CAPTION_CHARS]
    where = f" {CAPTION_FROM[given]}" if given in CAPTION_FROM else ""
    return cleaned, (f"The caption{where} was " + " and ".join(notes) + ".") if notes else None


def caption_for_box(text: str, given: str) -> tuple[str, dict | None]:
    """A caption for the page's box: (what the box keeps, at most MAX_CAPTION_CHARS characters; the whole text
    and where it came from, {"text", "from"}, when it was cut, else None). The page gives the cut text and the
    record back to `caption_given`, so that the view says the caption was cut, and where."""
    if len(text) <= MAX_CAPTION_CHARS:
        return text, None
    return text[:MAX_CAPTION_CHARS], {"text": text, "from": given}


def caption_given(box: str | None, cut: dict | None) -> tuple[str | None, str | None]:
    """(caption, where it was given) for `ExploreInputs`: the whole text that was cut into the box while the box
    still holds its cut (`caption_for_box`), else the box's text as typed."""
    if box is not None and cut and box == cut["text"][:MAX_CAPTION_CHARS]:
        return cut["text"], cut["from"]
    return box, "box"


def tokens_read(model, text: str) -> str | None:
    """When the text tower reads only the start of a caption: which words, in a sentence; else None."""
    tok = getattr(getattr(model, "encoders", None), "tokenizer", None)
    length = getattr(tok, "context_length", None)
    if tok is None or not length or not hasattr(tok, "encode"):
        return None
    words = text.split()
    used = len(words)
    while used > 0 and len(tok.encode(" ".join(words[:used]))) > length - 2:  # start and end tokens
        used -= 1
    if used == len(words):
        return None
    return (
        f"The text tower reads {length - 2} tokens: the first {used} of {len(words)} words "
        f"(“{' '.join(words[:used])[:80]}…”); the rest does not change the prediction."
    )


CANVAS_TOOLBAR_PX = 32  # the drawing canvas keeps its (invisible until hovered) toolbar over its top strip


def canvas_background(size: int, strip: int = CANVAS_TOOLBAR_PX) -> np.ndarray:
    """RGB background of the drawing canvas: black, with a grey strip on top where its toolbar sits (a stroke
    that starts there is taken by the toolbar), so the square below is all drawing surface."""
    bg = np.zeros((size + strip, size, 3), np.uint8)
    bg[:strip] = (38, 39, 48)
    return bg


def canvas_image(rgba: np.ndarray | None, skip_top: int = 0) -> np.ndarray | None:
    """The canvas drawing as a grayscale uint8 image (white ink on black), or None if nothing is drawn;
    `skip_top` rows (the toolbar strip) are left out."""
    if rgba is None:
        return None
    a = np.asarray(rgba)
    if a.ndim != 3 or a.shape[-1] < 3:
        return None
    a = a[skip_top:]
    gray = a[..., :3].astype(np.float32).mean(axis=-1)
    if a.shape[-1] == 4:
        gray = gray * (a[..., 3].astype(np.float32) / 255.0)
    if float(gray.max(initial=0.0)) < 32.0:
        return None
    return np.clip(gray, 0, 255).astype(np.uint8)


def image_corruption_text(severity: float) -> str:
    """What the image slider does at this severity, in words (the benchmark's corruption, aecf.data.corruption)."""

    if severity <= 0:
        return "severity 0: the image as given."
    return (
        f"severity {severity:.2f}: {100 * MAX_ENERGY_REMOVED * severity:.0f} % of MNIST's PCA energy removed, "
        f"noise σ = {MAX_NOISE_STD * severity:.2f}, a {round(MAX_OCCLUSION_SIDE * severity)} px block hidden "
        f"with probability {OCCLUSION_PROB * severity:.0%}."
    )


def audio_corruption_text(snr_db: float | None) -> str:

    if snr_db is None:
        return "no noise added: the recording as given."
    return f"noise at {snr_db:+.0f} dB SNR (audio severity {float(audio_severity(snr_db)):.2f}): white, pink and babble mixed."


def upscale(image_28: np.ndarray, factor: int = 6) -> np.ndarray:
    """[28, 28] float in [0, 1] -> uint8 [28·f, 28·f], nearest neighbour (crisp pixels on screen)."""
    img = np.clip(np.asarray(image_28, dtype=np.float32), 0, 1)
    return (np.kron(img, np.ones((factor, factor), np.float32)) * 255).astype(np.uint8)


def logmel_image(logmel: np.ndarray, height: int = 160) -> np.ndarray:
    """[n_mels, T] log-mel -> uint8 RGB image (low frequencies at the bottom, magma-like colours)."""
    mel = np.asarray(logmel, dtype=np.float32)[::-1]
    lo, hi = float(np.percentile(mel, 1)), float(np.percentile(mel, 99))
    x = np.clip((mel - lo) / max(hi - lo, 1e-6), 0, 1)
    # a 4-stop magma-like ramp: black -> purple -> orange -> light yellow
    stops = np.array([[0, 0, 4], [120, 28, 109], [237, 105, 37], [252, 253, 191]], np.float32)
    pos = x * (len(stops) - 1)
    i = np.clip(pos.astype(int), 0, len(stops) - 2)
    frac = (pos - i)[..., None]
    rgb = stops[i] * (1 - frac) + stops[i + 1] * frac
    reps = max(1, height // mel.shape[0])
    return np.repeat(np.repeat(rgb, reps, axis=0), 3, axis=1).astype(np.uint8)


def wav_bytes(wave: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """Float wave -> 16-bit WAV bytes (to play back what the model hears)."""

    buf = io.BytesIO()
    peak = float(np.max(np.abs(wave), initial=0.0))
    sf.write(buf, np.asarray(wave / max(1.0, peak), dtype=np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ------------------------------------------------------------------------------------ numbers in words


def mc_confidence_spread(mc_probs: np.ndarray, label: int) -> dict:
    """Per-pass probability of the predicted class: mean, std, min, max over the K passes."""
    mc = np.asarray(mc_probs, dtype=float)
    if mc.ndim != 2 or mc.shape[0] == 0:
        return {
            "k": 0,
            "mean": float("nan"),
            "std": float("nan"),
            "min": float("nan"),
            "max": float("nan"),
            "agree": float("nan"),
        }
    per = mc[:, label]
    return {
        "k": int(mc.shape[0]),
        "mean": float(per.mean()),
        "std": float(per.std()),
        "min": float(per.min()),
        "max": float(per.max()),
        "agree": float((mc.argmax(axis=1) == label).mean()),  # share of passes voting for the label
    }


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a metric: '–' for none, and never '-0.000' (H(p) of one modality is exactly 0,
    computed as a tiny negative number)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def gate_rows(
    gate: dict | None, present: tuple[str, ...], modalities: tuple[str, ...]
) -> list[tuple[str, float]]:
    """(text, weight) per modality of the checkpoint; an absent one says so and weighs exactly 0."""
    if not gate:
        return []
    rows = []
    for m in modalities:
        w = float(gate.get(m, 0.0) or 0.0)
        rows.append((f"{m}: p = {w:.3f}" if m in present else f"{m}: absent, p = 0", min(1.0, max(0.0, w))))
    return rows


def _lattice_input(pred) -> dict:
    return {k: {"label": v.label, "confidence": v.confidence} for k, v in pred.subsets.items()}


def _top(probs, classes, k: int = TOP_K) -> list[tuple[str, float]]:
    p = np.asarray(probs, dtype=float)
    return [(classes[i], float(p[i])) for i in np.argsort(-p, kind="stable")[:k]]


# ------------------------------------------------------------------------------------ the view


def _embed(model, modality: str, raw, inputs: ExploreInputs) -> dict:
    if modality == "image":
        return model.embed_image(raw, inputs.image_severity, inputs.seed)
    if modality == "caption":
        return model.embed_caption(raw)
    return model.embed_audio(raw, inputs.audio_snr, inputs.seed)


def explore(
    load, key: str, inputs: ExploreInputs, baseline_key: str | None = None, baseline_name: str | None = None
) -> ExploreView:
    """The whole Explore view: the checkpoint `key` (and a baseline) through `load` (the server's cached
    loader), then `explore_model`. A checkpoint that cannot load is the view's `fatal` problem."""
    try:
        model = load(key)
    except Exception as e:  # noqa: BLE001
        return ExploreView(fatal=describe(e, "Loading the checkpoint"))
    baseline, problem = None, None
    if baseline_key and baseline_key != "none":
        try:
            baseline = load(baseline_key)
        except Exception as e:  # noqa: BLE001
            problem = Problem("warning", describe(e, "The baseline").message)
    view = explore_model(model, inputs, baseline, baseline_name or baseline_key or "")
    view.baseline_problem = view.baseline_problem or problem
    return view


def explore_model(model, inputs: ExploreInputs, baseline=None, baseline_name: str = "") -> ExploreView:
    """The Explore view of one model for one set of inputs: per-modality messages, the prediction with every
    diagnostic, the baseline on the same embeddings, and the figures, formatted for the page."""
    multilabel = getattr(model, "task", "multiclass") == "multilabel"
    view = ExploreView(multilabel=multilabel)
    modalities = tuple(m for m in MODALITIES if m in model.modalities)
    caption, caption_note = clean_caption(inputs.caption, inputs.caption_from)
    raw = {"image": inputs.image, "caption": caption, "audio": inputs.audio}
    on = {"image": inputs.image_on, "caption": inputs.caption_on, "audio": inputs.audio_on}
    missing = {
        "image": "No image yet: {how}. Until then the image counts as missing.",
        "audio": "No recording yet: {how}. Until then the audio counts as missing.",
    }
    how = {
        "image": "upload one or give a path" if multilabel else "pick a sample, upload or draw one",
        "audio": "pick a sample, upload or record one",
    }

    parts: dict[str, dict] = {}
    for m in modalities:
        if not on[m]:
            continue
        if raw[m] is None:
            if m in missing:
                view.notes[m] = Problem("info", missing[m].format(how=how[m]))
            else:
                view.notes[m] = describe_input(m)
            continue
        try:
            parts[m] = _embed(model, m, raw[m], inputs)
        except Exception as e:  # noqa: BLE001 - one bad input is reported where it was given
            view.notes[m] = describe(e, f"Reading the {m}")
    not_speech = (parts.get("audio") or {}).get("recording_not_speech")
    if "audio" in parts and not not_speech:
        note = " ".join(
            n
            for n in (
                noisy_recording_note(parts["audio"].get("recording_snr_db")),
                several_sounds_note(parts["audio"].get("recording_sounds")),
            )
            if n
        )
        if note:
            view.notes["audio"] = Problem("info", note)
    unknown_caption = "caption" in parts and not caption_known(
        model, parts["caption"].get("caption_text", "")
    )
    if "caption" in parts:
        note = " ".join(
            n for n in (caption_note, tokens_read(model, parts["caption"].get("caption_text", ""))) if n
        )
        if note:
            view.notes["caption"] = Problem("info", note)

    if not parts:
        view.warning = (
            "Every modality is switched off: there is nothing to fuse. Switch on at least one of "
            + ", ".join(modalities)
            + "."
            if not any(on[m] for m in modalities)
            else "None of the switched-on modalities has a usable input yet (see the messages above)."
        )
        return view

    content = tuple((m, p["key"]) for m, p in parts.items())  # each input's content key, made by the model
    try:
        pred = model.predict_embeddings(
            {m: p["embedding"] for m, p in parts.items()},
            max(2, int(inputs.mc_samples)),
            extras=parts,
            seed=inputs.seed,
            cache_key=content,
        )
    except Exception as e:  # noqa: BLE001
        view.warning = describe(e, "The prediction").message
        return view
    view.prediction = pred
    # what the gate does with an input that the tower cannot read: said beside the input, with its weight
    if not_speech:
        view.notes["audio"] = Problem("warning", not_speech_note(not_speech, _gate_weight(pred, "audio")))
    if unknown_caption:
        first = view.notes.get("caption")
        text = unknown_caption_note(_gate_weight(pred, "caption"))
        view.notes["caption"] = Problem("warning", f"{first.message} {text}" if first else text)
    if baseline is not None:
        try:
            view.baseline = baseline.predict_embeddings(
                pred.embeddings,
                max(2, int(inputs.mc_samples)),
                seed=inputs.seed,
                cache_key=(model.name, *content),
            )
        except Exception as e:  # noqa: BLE001
            view.baseline_problem = Problem("warning", describe(e, "The baseline").message)
    _describe(view, model, pred, view.baseline, baseline_name or "baseline", modalities)
    return view


def _heldout_accuracy() -> dict:
    """The shipped encoders' held-out accuracies (`encoders report`, checkpoints/encoders/report.json), or {}."""

    try:
        return dict(json.loads((encoder_dir() / "report.json").read_text()).get("heldout") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def noisy_recording_note(snr_db: float | None) -> str | None:
    """What a recording with a measurable background below NOISY_RECORDING_DB should be told, or None."""
    if snr_db is None or snr_db >= NOISY_RECORDING_DB:
        return None
    acc = _heldout_accuracy()
    measured = ""
    if isinstance(acc.get("voices_room"), float | int) and isinstance(acc.get("voices"), float | int):
        measured = (
            f" (it reads {acc['voices_room']:.0%} of held-out words said in simulated noisy rooms, against "
            f"{acc['voices']:.0%} of clean ones)"
        )
    return (
        f"This recording is noisy: the word is about {max(snr_db, -10.0):.0f} dB above the background. The "
        f"audio tower reads words in noise less reliably{measured}. A quieter room or a closer microphone "
        "helps."
    )


def several_sounds_note(sounds: int | None) -> str | None:
    """What a recording with more than one separate sound (`preprocess.separate_sounds`) should be told, or None."""
    if sounds is None or sounds < 2:
        return None
    return (
        f"I hear {sounds} separate sounds in this recording: other words or voices besides the digit? The audio "
        "tower hears one 1.28 s stretch, centred on where most of the sound's energy lies, and it mixes the sounds "
        "inside it: another talker can take the digit's place. Say one digit, with the room quiet."
    )


def _gate_weight(pred, modality: str) -> float | None:
    gate = getattr(pred, "gate", None)
    return None if not gate or modality not in gate else float(gate[modality])


def _gate_sentence(modality: str, weight: float | None) -> str:
    if weight is None:
        return f"This model has no gate: it counts the {modality} as much as any other input."
    return f"The gate cannot tell: it still gives the {modality} p = {weight:.2f} (see the gate weights)."


def not_speech_note(reason: str, gate_weight: float | None) -> str:
    """What a recording that does not sound like speech (`preprocess.not_speech`) is told, with the weight the
    gate gives it (None: the model has no gate)."""
    why = NOT_SPEECH_REASONS.get(reason, "")
    return (
        f"This recording does not sound like speech{': ' + why if why else ''}. The audio tower only learned "
        f"spoken digits, so the digit it reads here means little. {_gate_sentence('audio', gate_weight)} "
        "Say one digit, or switch the audio off."
    )


def caption_known(model, text: str) -> bool:
    """False when a digits model's caption tower knows none of the caption's words
    (`preprocess.known_caption_words`: the words of the captions it was trained on); always True for a model
    with a public CLIP (COCO), whose tower learned a whole language."""
    tok = getattr(getattr(model, "encoders", None), "tokenizer", None)
    if tok is None or getattr(model, "encoder_spec", None) is not None or not hasattr(tok, "encode"):
        return True
    return bool(known_caption_words(text, tok))


def unknown_caption_note(gate_weight: float | None) -> str:
    """What a caption with no word the caption tower knows is told, with the gate's weight on it."""
    return (
        "The caption tower knows none of these words: it learned only short English captions of digits "
        "(“a seven”, “an odd number”, “a handwritten digit”), so this caption tells it nothing. "
        f"{_gate_sentence('caption', gate_weight)} Write a few English words about the digit, or switch the "
        "caption off."
    )


def describe_input(modality: str) -> Problem:
    return Problem(
        "error",
        "The caption is empty. Type a few words describing the digit."
        if modality == "caption"
        else f"No {modality} given.",
    )


def _describe(view: ExploreView, model, pred, base, base_name: str, modalities: tuple[str, ...]) -> None:
    classes = model.classes
    spread = mc_confidence_spread(pred.mc_probs, pred.label)
    n_present = len(pred.present)
    if view.multilabel:
        view.headline = f"Top label: **{pred.label_name}**"
        conf_help = "The sigmoid probability of the top label."
    else:
        view.headline = f"Prediction: **{pred.label} ({pred.label_name})**"
        conf_help = None
    view.metrics = [
        Metric("Confidence", fmt(pred.confidence), conf_help),
        Metric(
            "Gate entropy H(p)",
            fmt(pred.gate_entropy),
            f"0 = all weight on one modality; log {n_present} = {math.log(max(1, n_present)):.3f} = spread "
            f"evenly over the {n_present} present one{'s' if n_present > 1 else ''}.",
        ),
        Metric(
            "λ(x)",
            fmt(pred.lam, 4),
            "Per-instance entropy coefficient, from the variance of the K MC-dropout passes.",
        ),
        Metric(
            f"Spread over K={spread['k']} passes",
            f"±{fmt(spread['std'])}",
            "Std of the predicted class's probability over the MC-dropout passes.",
        ),
    ]
    view.compare = [Metric("Modalities used", " + ".join(pred.present))]
    if base is not None:
        answer = base.label_name if view.multilabel else f"{base.label} ({base.label_name})"
        view.compare += [
            Metric(f"Baseline: {base_name}", answer),
            Metric("Baseline confidence", fmt(base.confidence)),
        ]

    name = f"{model.name} (AECF)" if model.method == "aecf" else model.name
    if view.multilabel:
        view.top_labels = [
            (
                f"Top labels of {model.name} ({TOP_K} most probable; independent sigmoids, so several "
                "can be high)",
                _top(pred.probs, classes),
            )
        ]
        if base is not None:
            view.top_labels.append((f"Baseline: {base_name}", _top(base.probs, classes)))
    else:
        rows = [(name, pred.probs)] + ([(base_name, base.probs)] if base is not None else [])
        view.probs_svg = probs_svg(rows, "Class probabilities")

    view.gate = gate_rows(pred.gate, pred.present, modalities)
    if not view.gate:
        view.gate_note = (
            f"{model.name} has no gate (method {model.method}): every present modality counts the same."
        )
    elif base is not None and base.gate is None:
        view.gate_note = f"The baseline ({base_name}) has no gate."

    names = classes if view.multilabel else None
    view.lattice_title = (
        "Subset lattice: the top label's sigmoid confidence with every subset of the present modalities"
        if view.multilabel
        else "Subset lattice: confidence with every subset of the present modalities"
    )
    view.lattices = [lattice_svg(_lattice_input(pred), title=model.name, class_names=names)]
    if base is not None:
        view.lattices.append(
            lattice_svg(_lattice_input(base), title=f"{base_name} (baseline)", class_names=names)
        )

    k = spread["k"]
    view.mc_tab = f"λ(x): the K = {k} passes"
    what = f" (p of '{pred.label_name}')" if view.multilabel else ""
    view.mc_svg = mc_passes_svg(
        pred.mc_probs, pred.label, f"λ(x) reads these K = {k} MC-dropout passes{what}"
    )
    shown = pred.label_name if view.multilabel else pred.label
    view.mc_caption = (
        f"{spread['agree']:.0%} of the passes vote for {shown}; per-pass p({shown}) from "
        f"{spread['min']:.2f} to {spread['max']:.2f}. The more they disagree, the larger λ(x)."
    )

    experts = [(m, pred.experts[m]) for m in pred.present if m in pred.experts]
    if view.multilabel:
        view.experts_bars = [(f"{m} alone (zero-shot)", _top(p, classes)) for m, p in experts]
        view.experts_caption = (
            "CLIP's own zero-shot guess per modality (a softmax over the class prompts: compare "
            "the ranking, not the values, with the sigmoid head)."
        )
    elif experts:
        view.experts_svg = probs_svg(experts, "Each modality's own opinion (zero-shot)")
        view.experts_caption = (
            "Each frozen encoder's own zero-shot guess (its embedding against the class prompts), "
            "before any fusion."
        )

    view.caption_text = pred.caption_text
