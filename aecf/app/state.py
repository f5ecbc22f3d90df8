"""The Explore view in a link: `ExploreState` (checkpoint, samples, toggles, sliders) <-> URL query parameters.

A teacher shares a link that reproduces the view. Decoding never fails: an unknown or out-of-range value
falls back to its default. The page reads a new link with `ExploreState.from_query` (so `cap_on=off` or `=0`
work too) and writes each changed setting back under its URL key (pages/parts/url.py); `caption_query` keeps
a long caption out of the link; `url_overrides` says which switch words a plain true/false reader would miss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from aecf.constants import MODALITIES

# --------------------------------------------------------------------------------------------
# Explore view <-> URL query parameters
# --------------------------------------------------------------------------------------------

IMAGE_SOURCES = ("sample", "upload", "draw")
AUDIO_SOURCES = ("sample", "upload", "record")
MAX_URL_CAPTION = 300  # longer captions still work on the page, they just are not put in share links
TRUE_WORDS = ("true", "1", "on", "yes")
FALSE_WORDS = ("false", "0", "off", "no")
SNR_CLEAN = 30.0  # the SNR slider's top end means "no added noise"
SNR_MIN = -15.0
MC_CHOICES = (2, 5, 10, 20, 50)
# The example Explore opens with (when both files are among the samples): a scanned 4 and "four" said by a held-out
# voice, each read as a 4 with confidence ≥ 0.8 by its own encoder (tests/aecf/app/test_lessons.py measures it), with
# the page's exact caption for a 4. (MNIST test #18, the 3 before it, reads 9 alone: it looks like an S or an 8.)
DEFAULT_IMAGE_SAMPLE = "scan_4.png"
DEFAULT_AUDIO_SAMPLE = "spoken_4_espeak.wav"
DETAILS_KEY = "details"  # Explore's "Each modality alone, and what the model sees" expander: open when true


@dataclass
class ExploreState:
    """The Explore view. Field -> URL key in URL_KEYS; the page writes each widget's value under that key
    (pages/parts/url.py), so the URL always reproduces the view."""

    checkpoint: str = ""  # a checkpoint choice key (aecf.app.checkpoints); "" = the first (shipped AECF)
    baseline: str = ""  # "" = the first available baseline; "none" = no baseline
    image_on: bool = True
    caption_on: bool = True
    audio_on: bool = True
    image_source: str = "sample"
    image_sample: str = ""
    audio_source: str = "sample"
    audio_sample: str = ""
    caption: str | None = None  # None = the sample caption
    image_severity: float = 0.0  # 0 = clean; 1 = 90 % of PCA energy removed, occlusion, noise
    audio_snr: float = SNR_CLEAN  # dB; SNR_CLEAN = clean
    seed: int = 0  # corruption seed
    mc_samples: int = 20

    @property
    def present(self) -> tuple[str, ...]:
        on = {"image": self.image_on, "caption": self.caption_on, "audio": self.audio_on}
        return tuple(m for m in MODALITIES if on[m])

    def to_query(self) -> dict[str, str]:
        """Only what differs from the defaults, so links stay short (the format the widgets read)."""
        default = ExploreState()
        q: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name) or value is None:
                continue
            if f.name == "caption" and len(value) > MAX_URL_CAPTION:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, float):
                text = f"{value:g}"
            else:
                text = str(value)
            q[URL_KEYS[f.name]] = text
        return q

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ExploreState:
        """Decode a URL; anything unknown or out of range falls back to its default."""
        s = cls()
        get = {k: (v[-1] if isinstance(v, list | tuple) else v) for k, v in dict(params).items()}
        for name, key in URL_KEYS.items():
            if key not in get:
                continue
            raw = str(get[key])
            try:
                if name.endswith("_on"):
                    if raw.lower() in TRUE_WORDS + FALSE_WORDS:
                        setattr(s, name, raw.lower() in TRUE_WORDS)
                elif name == "image_severity":
                    setattr(s, name, min(1.0, max(0.0, float(raw))))
                elif name == "audio_snr":
                    setattr(s, name, min(SNR_CLEAN, max(SNR_MIN, float(raw))))
                elif name == "seed":
                    setattr(s, name, max(0, int(raw)))
                elif name == "mc_samples":
                    k = int(raw)
                    setattr(s, name, k if k in MC_CHOICES else 20)
                elif name == "image_source":
                    setattr(s, name, raw if raw in IMAGE_SOURCES else "sample")
                elif name == "audio_source":
                    setattr(s, name, raw if raw in AUDIO_SOURCES else "sample")
                else:
                    setattr(s, name, raw)
            except ValueError:
                continue
        return s


URL_KEYS = {
    "checkpoint": "ckpt",
    "baseline": "base",
    "image_on": "img_on",
    "caption_on": "cap_on",
    "audio_on": "aud_on",
    "image_source": "isrc",
    "image_sample": "img",
    "audio_source": "asrc",
    "audio_sample": "aud",
    "caption": "cap",
    "image_severity": "isev",
    "audio_snr": "snr",
    "seed": "seed",
    "mc_samples": "k",
}


# --------------------------------------------------------------------------------------------
# The guided mode: a lesson's step in the URL of the page it opens
# --------------------------------------------------------------------------------------------

LESSON_KEY = "lesson"  # a lesson's slug (the Lessons page's choice, and the lesson a guided page belongs to)
STEP_KEY = "step"  # the step of that lesson, from 1, on the page the step opens
TAB_KEY = "tab"  # the tab a page opens on (its label): Subsets and Curriculum bind their tabs to it


def share_query(**changes) -> dict[str, str]:
    """Query params for an Explore link with these ExploreState fields changed (e.g. checkpoint='run:<id>')."""
    state = ExploreState()
    for k, v in changes.items():
        setattr(state, k, v)
    return state.to_query()


def _last(value) -> str:
    return str(value[-1] if isinstance(value, list | tuple) else value)


def url_overrides(params: Mapping[str, str]) -> dict[str, bool]:
    """URL key -> value for the on/off switches written in a form a bound toggle does not read itself
    (it reads only `true` / `false`): `cap_on=off`, `img_on=0`, `aud_on=yes` ..."""
    out = {}
    for name in ("image_on", "caption_on", "audio_on"):
        key = URL_KEYS[name]
        if key in params:
            raw = _last(params[key]).lower()
            if raw in TRUE_WORDS + FALSE_WORDS and raw not in ("true", "false"):
                out[key] = raw in TRUE_WORDS
    return out


def caption_query(caption: str | None, default: str) -> str | None:
    """What a link carries for the caption: None (leave it out) for the default, or for a caption longer
    than MAX_URL_CAPTION (the page still uses it; a link just cannot carry it)."""
    if caption is None or caption == default or len(caption) > MAX_URL_CAPTION:
        return None
    return caption
