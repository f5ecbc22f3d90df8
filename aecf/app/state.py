"""State the app keeps outside one script run: the shareable Explore view and the training runs.

- `ExploreState` is the Explore page's view (checkpoint, samples, toggles, sliders) encoded in URL
  query parameters, so a teacher can share a link that reproduces it. Decoding never fails: an
  unknown or out-of-range value falls back to its default.
- `RunManager` owns at most one background training thread per server process. A second start is
  refused with `RunBusyError` (the page tells the person to wait); a `threading.Event` stops a run.
  Runs live on disk under runs/<id>/ (config.json, metrics.jsonl, status.json, model.safetensors),
  so a page refresh — or a new session — finds them again while the thread goes on.

Nothing here imports Streamlit: the pages call it, the tests call it directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from aecf import app_paths, runs
from aecf.constants import MODALITIES

# --------------------------------------------------------------------------------------------
# Explore view <-> URL query parameters
# --------------------------------------------------------------------------------------------

IMAGE_SOURCES = ("sample", "upload", "draw")
AUDIO_SOURCES = ("sample", "upload", "record")
MAX_URL_CAPTION = 300  # longer captions still work on the page, they just are not put in share links
SNR_CLEAN = 30.0  # the SNR slider's top end means "no added noise"
SNR_MIN = -15.0
MC_CHOICES = (2, 5, 10, 20, 50)


@dataclass
class ExploreState:
    """The Explore view. Field -> URL key in URL_KEYS; the page binds each widget to that key
    (Streamlit's `bind="query-params"`), so the URL always reproduces the view."""

    checkpoint: str = ""  # a checkpoint choice key (aecf.app_model); "" = the first (shipped AECF)
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
                    if raw.lower() in ("true", "1", "on", "false", "0", "off"):
                        setattr(s, name, raw.lower() in ("true", "1", "on"))
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
    "checkpoint": "ckpt", "baseline": "base", "image_on": "img_on", "caption_on": "cap_on", "audio_on": "aud_on",
    "image_source": "isrc", "image_sample": "img", "audio_source": "asrc", "audio_sample": "aud", "caption": "cap",
    "image_severity": "isev", "audio_snr": "snr", "seed": "seed", "mc_samples": "k",
}


def share_query(**changes) -> dict[str, str]:
    """Query params for an Explore link with these ExploreState fields changed (e.g. checkpoint='run:<id>')."""
    state = ExploreState()
    for k, v in changes.items():
        setattr(state, k, v)
    return state.to_query()


# --------------------------------------------------------------------------------------------
# Runs on disk (format owned by aecf.runs; here: what the Train page lists)
# --------------------------------------------------------------------------------------------

STALE_AFTER_S = 120.0  # a "running" run nobody owns and that wrote nothing for this long was cut off


@dataclass
class RunInfo:
    id: str
    path: Path
    state: str  # running | finished | stopped | failed | interrupted | unknown
    config: dict = field(default_factory=dict)
    started: float = 0.0
    last_update: float = 0.0
    error: str | None = None
    has_model: bool = False

    @property
    def method(self) -> str:
        return str(self.config.get("method", "?"))

    @property
    def live(self) -> bool:
        return self.state == "running"


def read_run(run_dir: str | Path, manager: RunManager | None = None) -> RunInfo:
    run_dir = Path(run_dir)
    status = runs.read_status(run_dir) or {}
    paths = [run_dir / "metrics.jsonl", run_dir / "status.json"]
    last_update = max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)
    state = str(status.get("state", "unknown"))
    owned = manager is not None and manager.active_id == run_dir.name and manager.is_running()
    if state == "running" and not owned and time.time() - last_update > STALE_AFTER_S:
        # Nobody in this server trains it and it has been silent: cut off (server restart, crash).
        # (A run started from the command line keeps writing, so it stays "running".)
        state = "interrupted"
    return RunInfo(
        id=run_dir.name,
        path=run_dir,
        state=state,
        config=runs.read_config(run_dir) or {},
        started=float(status.get("started") or 0.0) or (run_dir.stat().st_mtime if run_dir.exists() else 0.0),
        last_update=last_update,
        error=status.get("error"),
        has_model=(run_dir / "model.safetensors").exists(),
    )


def list_runs(runs_dir: str | Path | None = None, manager: RunManager | None = None) -> list[RunInfo]:
    """All runs under runs_dir (default: the manager's, else runs/), newest first."""
    if runs_dir is None:
        runs_dir = manager.runs_dir if manager is not None else app_paths.runs_dir()
    found = sorted(
        (read_run(p, manager) for p in runs.list_runs(runs_dir)), key=lambda r: r.started, reverse=True
    )
    return found


def read_metrics(run_dir: str | Path, kind: str | None = None) -> list[dict]:
    return runs.read_metrics(run_dir, kind)


# --------------------------------------------------------------------------------------------
# One training thread per server
# --------------------------------------------------------------------------------------------


class RunBusyError(RuntimeError):
    """A run is already going on in this server; the message says which and asks to wait."""


TrainTarget = Callable[[dict, Path, threading.Event], object]


def default_train_target(config: dict, run_dir: Path, stop_event: threading.Event) -> object:
    """Train on the shipped feature cache (assets/features) with aecf.train."""
    from aecf.app_training import run_training

    return run_training(config, run_dir, stop_event)


class RunManager:
    """At most one training thread at a time; shared by every session of this server."""

    def __init__(self, runs_dir: str | Path | None = None, target: TrainTarget | None = None):
        self.runs_dir = Path(runs_dir) if runs_dir else app_paths.runs_dir()
        self.target = target or default_train_target
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self.active_id: str | None = None

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self, config: dict) -> str:
        """Start a run in the background and return its id; RunBusyError if one is going on."""
        with self._lock:
            if self.is_running():
                raise RunBusyError(
                    f"Run {self.active_id} is still training on this server. One run at a time: "
                    "wait for it to finish (or stop it), then start yours."
                )
            run_dir = runs.create_run_dir(str(config.get("method", "run")), int(config.get("seed", 0)), self.runs_dir)
            # visible at once (list_runs needs config.json); train() rewrites both with the full config
            writer = runs.RunWriter(run_dir)
            writer.write_config(dict(config))
            writer.set_status("running", method=config.get("method"), epochs=config.get("epochs"))
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(dict(config), run_dir, stop, writer), name=f"aecf-train-{run_dir.name}", daemon=True
            )
            self._thread, self._stop, self.active_id = thread, stop, run_dir.name
            thread.start()
            return run_dir.name

    def _run(self, config: dict, run_dir: Path, stop: threading.Event, writer: runs.RunWriter) -> None:
        try:
            self.target(config, run_dir, stop)
        except BaseException as e:  # noqa: BLE001 - the thread must always leave a final status
            status = runs.read_status(run_dir) or {}
            if status.get("state") in (None, "running"):
                writer.set_status("failed", error=f"{type(e).__name__}: {e}")
            return
        status = runs.read_status(run_dir) or {}
        if status.get("state") in (None, "running"):
            writer.set_status("stopped" if stop.is_set() else "finished")

    def stop(self) -> bool:
        """Ask the active run to stop after its current step; False if nothing is running."""
        with self._lock:
            if not self.is_running() or self._stop is None:
                return False
            self._stop.set()
            return True

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


_MANAGER: RunManager | None = None
_MANAGER_LOCK = threading.Lock()


def get_run_manager() -> RunManager:
    """The server-wide run manager (module state survives Streamlit reruns and page refreshes)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = RunManager()
        return _MANAGER
