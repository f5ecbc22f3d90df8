"""Write or check every generated table of the docs from the pipeline's JSON.

    python scripts/render_docs.py --check   # exit 1 and print a diff where a document disagrees with the JSON
    python scripts/render_docs.py --write   # rewrite the marked tables (and results/results.md) in place

Sources: `results/results.json` (`python -m aecf evaluate`), `results/mfeat/results.json` (the example dataset's
shipped runs, `scripts/retrain_mfeat.sh`) and `checkpoints/encoders/report.json` (`python -m aecf encoders report`); the renderer is `aecf.figures.tables`, the one that `evaluate` writes
results.md with. In README.md, docs/results.md and docs/encoders.md each generated table sits between two
marker lines (`<!-- table:NAME -->` ... `<!-- /table:NAME -->`) and only the text between them is rewritten;
`results/results.md` is generated whole. The prose around the tables is written by hand: re-read it after a
rebuild.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aecf.figures.tables import build_tables, fill_blocks, marked_tables, results_markdown  # noqa: E402
from aecf.paths import ENCODER_DIR, RESULTS_DIR, RESULTS_JSON, ROOT  # noqa: E402

REPORT_JSON = ENCODER_DIR / "report.json"
MFEAT_JSON = RESULTS_DIR / "mfeat" / "results.json"
MFEAT_TABLES = [
    "fusion-main",
    "fusion-scores",
    "fusion-drop-acc",
    "fusion-drop-ece",
    "fusion-drop-ece-deploy",
]

# document (relative to the project) -> the tables it holds, in order
DOCUMENTS = {
    "README.md": ["headline"],
    "docs/results.md": [
        "headline",
        "fusion-main",
        "fusion-scores",
        "fusion-intervals",
        "fusion-drop-acc",
        "fusion-drop-map",
        "fusion-drop-ece",
        "fusion-drop-ece-deploy",
        "fusion-drop-nll",
        "fusion-drop-brier",
        "fusion-subsets",
        "fusion-mechanisms",
        "fusion-targets",
    ],
    "docs/encoders.md": ["encoders", "encoders-heldout"],
    "docs/data-format.md": [f"mfeat-{name}" for name in MFEAT_TABLES],
}
RESULTS_MD = "results/results.md"  # generated whole by results_markdown, as `evaluate` writes it


def render(
    root: Path, results: dict, report: dict, mfeat: dict
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """document -> (text now, text from the JSON), and the problems found (markers missing, unknown, twice)."""
    tables = build_tables(results, report)
    tables |= {f"mfeat-{k}": v for k, v in build_tables(mfeat, report, MFEAT_TABLES).items()}
    out, problems = {}, []
    for name, expected in DOCUMENTS.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        text = path.read_text()
        new, found = fill_blocks(text, tables)
        problems += [f"{name}: {p}" for p in found]
        marked = marked_tables(text)
        problems += [f"{name}: no markers for table: {t}" for t in expected if t not in marked]
        problems += [
            f"{name}: table not expected here: {t}" for t in dict.fromkeys(marked) if t not in expected
        ]
        out[name] = (text, new)
    path = root / RESULTS_MD
    out[RESULTS_MD] = (path.read_text() if path.is_file() else "", results_markdown(results))
    return out, problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 and print a diff if a document is stale")
    mode.add_argument("--write", action="store_true", help="rewrite the generated tables in place")
    p.add_argument("--root", type=Path, default=ROOT, help="the project whose documents to render")
    p.add_argument("--results", type=Path, default=RESULTS_JSON, help="JSON of `python -m aecf evaluate`")
    p.add_argument(
        "--report", type=Path, default=REPORT_JSON, help="JSON of `python -m aecf encoders report`"
    )
    args = p.parse_args(argv)

    results = json.loads(args.results.read_text())
    report = json.loads(args.report.read_text())
    mfeat = json.loads(MFEAT_JSON.read_text())
    documents, problems = render(args.root, results, report, mfeat)
    for problem in problems:
        print(problem, file=sys.stderr)

    stale = [name for name, (now, new) in documents.items() if now != new]
    if args.check:
        for name in stale:
            now, new = documents[name]
            diff = difflib.unified_diff(
                now.splitlines(True), new.splitlines(True), f"{name} (now)", f"{name} (from JSON)"
            )
            sys.stdout.writelines(diff)
            print(f"{name}: tables differ from {args.results.name} / {args.report.name}", file=sys.stderr)
        return 1 if stale or problems else 0

    for name in stale:
        (args.root / name).write_text(documents[name][1])
        print(f"{name}: rewritten")
    if not stale:
        print("every generated table is up to date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
