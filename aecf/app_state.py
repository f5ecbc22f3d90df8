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

import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from aecf.constants import MODALITIES, RUNS_DIR

# --------------------------------------------------------------------------------------------
# Explore view <-> URL query parameters
# --------------------------------------------------------------------------------------------

IMAGE_SOURCES = ("sample", "upload", "draw")
AUDIO_SOURCES = ("sample", "upload", "record")
MAX_URL_CAPTION = 300  # longer captions still work on the page, they just are not put in the URL
SNR_CLEAN = 40.0  # the SNR slider's top end means "no added noise"
MC_CHOICES = (1, 5, 10, 20, 50)


@dataclass
class ExploreState:
    checkpoint: str = ""  # "" = the shipped AECF checkpoint; else a checkpoint name or runs/<id>
    baseline: str = ""  # "" = the first available baseline
    image_on: bool = True
    caption_on: bool = True
    audio_on: bool = True
    image_source: str = "sample"
    image_sample: str = ""
    audio_source: str = "sample"
    audio_sample: str = ""
    caption: str | None = None  # None = the sample caption
    image_severity: float = 0.0  # energy removal / noise, 0 = clean
    audio_snr: float = SNR_CLEAN  # dB; SNR_CLEAN = clean
    seed: int = 0
    mc_samples: int = 20

    # short, stable URL keys
    _KEYS = {
        "checkpoint": "ckpt", "baseline": "base", "image_source": "isrc", "image_sample": "img",
        "audio_source": "asrc", "audio_sample": "aud", "caption": "cap", "image_severity": "isev",
        "audio_snr": "snr", "seed": "seed", "mc_samples": "k",
    }

    @property
    def present(self) -> tuple[str, ...]:
        on = {"image": self.image_on, "caption": self.caption_on, "audio": self.audio_on}
        return tuple(m for m in MODALITIES if on[m])

    def to_query(self) -> dict[str, str]:
        """Only what differs from the defaults, so links stay short."""
        default = ExploreState()
        q: dict[str, str] = {}
        if self.present != default.present:
            q["on"] = ",".join(self.present) or "none"
        for f in fields(self):
            if f.name.endswith("_on"):
                continue
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if f.name == "caption" and value is not None and len(value) > MAX_URL_CAPTION:
                continue
            if isinstance(value, float):
                text = f"{value:g}"
            else:
                text = str(value)
            q[self._KEYS[f.name]] = text
        return q

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ExploreState:
        s = cls()
        get = {k: (v[-1] if isinstance(v, list | tuple) else v) for k, v in dict(params).items()}
        if "on" in get:
            chosen = set(str(get["on"]).split(","))
            s.image_on, s.caption_on, s.audio_on = ("image" in chosen, "caption" in chosen, "audio" in chosen)
        for name, key in cls._KEYS.items():
            if key not in get:
                continue
            raw = str(get[key])
            try:
                if name in ("image_severity",):
                    setattr(s, name, min(1.0, max(0.0, float(raw))))
                elif name == "audio_snr":
                    setattr(s, name, min(SNR_CLEAN, max(-10.0, float(raw))))
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


# --------------------------------------------------------------------------------------------
# Runs on disk
# --------------------------------------------------------------------------------------------

RUN_STATUSES = ("running", "finished", "stopped", "failed")
STALE_AFTER_S = 120.0  # a "running" run nobody owns and that wrote nothing for this long was cut off


@dataclass
class RunInfo:
    id: str
    path: Path
    status: str
    config: dict = field(default_factory=dict)
    started: float = 0.0
    last_update: float = 0.0
    error: str | None = None
    has_model: bool = False

    @property
    def method(self) -> str:
        return str(self.config.get("method", "?"))


def _read_json(path: Path) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_json_atomic(path: Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, default=str)
    os.replace(tmp, path)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every complete JSON line of metrics.jsonl (a half-written last line is skipped, not an error)."""
    path = Path(run_dir) / "metrics.jsonl"
    rows: list[dict] = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    rows.append(row)
    except OSError:
        pass
    return rows


def read_run(run_dir: str | Path, manager: RunManager | None = None) -> RunInfo:
    run_dir = Path(run_dir)
    status = _read_json(run_dir / "status.json")
    metrics_path = run_dir / "metrics.jsonl"
    mtimes = [p.stat().st_mtime for p in (metrics_path, run_dir / "status.json") if p.exists()]
    last_update = max(mtimes, default=run_dir.stat().st_mtime if run_dir.exists() else 0.0)
    state = str(status.get("status", "unknown"))
    if state == "running" and not (manager is not None and manager.active_id == run_dir.name):
        # Nobody in this server trains it. Another process may (python -m aecf train); if it has
        # been silent for a while it was cut off (server restart, crash).
        if time.time() - last_update > STALE_AFTER_S:
            state = "interrupted"
    cfg = _read_json(run_dir / "config.json")
    return RunInfo(
        id=run_dir.name,
        path=run_dir,
        status=state,
        config=cfg.get("config", cfg) if isinstance(cfg.get("config"), dict) else cfg,
        started=float(status.get("started", 0.0) or 0.0) or (run_dir.stat().st_ctime if run_dir.exists() else 0.0),
        last_update=last_update,
        error=status.get("error"),
        has_model=(run_dir / "model.safetensors").exists(),
    )


def list_runs(runs_dir: str | Path = RUNS_DIR, manager: RunManager | None = None) -> list[RunInfo]:
    """All runs under runs_dir, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [read_run(p, manager) for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: r.started, reverse=True)


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


def new_run_id(config: dict, runs_dir: Path) -> str:
    stem = time.strftime("%Y%m%d-%H%M%S") + f"-{config.get('method', 'run')}-s{config.get('seed', 0)}"
    run_id, i = stem, 1
    while (runs_dir / run_id).exists():
        i += 1
        run_id = f"{stem}-{i}"
    return run_id


class RunManager:
    """At most one training thread at a time; shared by every session of this server."""

    def __init__(self, runs_dir: str | Path = RUNS_DIR, target: TrainTarget | None = None):
        self.runs_dir = Path(runs_dir)
        self.target = target or default_train_target
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self.active_id: str | None = None

    def is_running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self, config: dict) -> str:
        """Start a run in the background and return its id; RunBusyError if one is going on."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RunBusyError(
                    f"Run {self.active_id} is still training on this server. Only one run at a time: "
                    "wait for it to finish (or stop it), then start yours."
                )
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            run_id = new_run_id(config, self.runs_dir)
            run_dir = self.runs_dir / run_id
            run_dir.mkdir(parents=True)
            write_json_atomic(run_dir / "status.json", {"status": "running", "started": time.time()})
            if not (run_dir / "config.json").exists():
                write_json_atomic(run_dir / "config.json", dict(config))
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(dict(config), run_dir, stop), name=f"aecf-train-{run_id}", daemon=True
            )
            self._thread, self._stop, self.active_id = thread, stop, run_id
            thread.start()
            return run_id

    def _run(self, config: dict, run_dir: Path, stop: threading.Event) -> None:
        started = _read_json(run_dir / "status.json").get("started", time.time())
        try:
            self.target(config, run_dir, stop)
        except BaseException as e:  # noqa: BLE001 - the thread must always leave a final status
            status = _read_json(run_dir / "status.json")
            if status.get("status") in (None, "running"):
                write_json_atomic(
                    run_dir / "status.json",
                    {"status": "failed", "started": started, "ended": time.time(),
                     "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()},
                )
            return
        status = _read_json(run_dir / "status.json")
        if status.get("status") in (None, "running"):
            final = "stopped" if stop.is_set() else "finished"
            write_json_atomic(run_dir / "status.json", {**status, "status": final, "ended": time.time()})

    def stop(self) -> bool:
        """Ask the active run to stop after its current step; False if nothing is running."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._stop is None:
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


def config_summary(config: dict) -> dict:
    """A flat, JSON-safe view of a run config for tables."""
    return {k: v for k, v in asdict_safe(config).items() if isinstance(v, str | int | float | bool) or v is None}


def asdict_safe(obj) -> dict:
    if isinstance(obj, dict):
        return obj
    try:
        return asdict(obj)
    except TypeError:
        return dict(vars(obj))
