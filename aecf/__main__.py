"""`python -m aecf <command> ...` — one door to every program of the project.

Each command lives in the module that owns the behaviour; this file only dispatches.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    ("data", "build"): ("aecf.data.build", "Build the offline tri-modal digits benchmark."),
    ("encoders", "train"): ("aecf.encoders.train", "Train the frozen encoders shipped in checkpoints/."),
    ("encoders", "report"): ("aecf.encoders.report", "Zero-shot and linear-probe accuracy of the encoders."),
    ("heldout", "build"): (
        "aecf.data.heldout",
        "Build the held-out real-input evaluation sets (data/heldout).",
    ),
    ("features",): ("aecf.data.features", "Encode a dataset into the embedding cache."),
    ("train",): ("aecf.train", "Train a fusion method (or --specialists) on a dataset folder."),
    ("evaluate",): ("aecf.evaluate", "Evaluate fusion checkpoints on a dataset's test split."),
    ("prepare", "mfeat"): ("aecf.data.mfeat", "Convert UCI Multiple Features into the dataset format."),
    ("bench",): ("aecf.bench", "Speed and memory benchmarks."),
}


def usage() -> str:
    lines = ["usage: python -m aecf <command> [options]", "", "commands:"]
    for words, (_, help_text) in COMMANDS.items():
        lines.append(f"  {' '.join(words):<18} {help_text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for words, (module, _) in sorted(COMMANDS.items(), key=lambda kv: -len(kv[0])):
        if tuple(argv[: len(words)]) == words:
            rest = argv[len(words) :]
            mod = importlib.import_module(module)
            return int(mod.main(rest) or 0)
    print(usage(), file=sys.stderr if argv else sys.stdout)
    return 2 if argv and argv[0] not in ("-h", "--help") else 0


if __name__ == "__main__":
    sys.exit(main())
