"""The subset lattice of one example: every non-empty subset of the present modalities, ordered by ⊂.

CEC asks confidence to be monotone on this lattice: if A ⊂ B then c(A) ≤ c(B). The Hasse diagram
(`aecf.figures.lattice`) draws only the cover relations (B = A plus one modality); a violation is any pair
A ⊂ B with c(A) > c(B) + tol, and a cover edge is highlighted when it is itself violated.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from aecf.constants import MODALITIES, subset_name

VIOLATION_TOL = 0.01


@dataclass(frozen=True)
class LatticeNode:
    name: str  # canonical subset name, e.g. "image+audio"
    members: tuple[str, ...]
    label: int
    confidence: float


@dataclass(frozen=True)
class LatticeEdge:
    lower: str  # A
    upper: str  # B, A ⊂ B with |B| = |A| + 1
    violated: bool  # c(A) > c(B) + tol


@dataclass(frozen=True)
class Lattice:
    nodes: dict[str, LatticeNode]
    edges: list[LatticeEdge]  # cover relations only (what a Hasse diagram draws)
    violations: list[tuple[str, str]]  # every A ⊂ B (not only covers) with c(A) > c(B) + tol

    @property
    def is_monotone(self) -> bool:
        return not self.violations


def _members(name: str) -> tuple[str, ...]:
    parts = tuple(p for p in name.split("+") if p)
    unknown = [p for p in parts if p not in MODALITIES]
    if unknown:
        raise ValueError(f"unknown modality in subset name {name!r}: {unknown}")
    return tuple(m for m in MODALITIES if m in parts)


def build_lattice(subsets: dict, tol: float = VIOLATION_TOL) -> Lattice:
    """Lattice from `Prediction.subsets` ({"image+audio": {"label", "confidence", ...}, ...}).

    Subset names may come in any modality order; they are canonicalised to MODALITIES order.
    """
    nodes: dict[str, LatticeNode] = {}
    for raw_name, info in subsets.items():
        members = _members(raw_name)
        if not members:
            continue
        name = subset_name(members)
        nodes[name] = LatticeNode(name, members, int(info["label"]), float(info["confidence"]))

    edges: list[LatticeEdge] = []
    violations: list[tuple[str, str]] = []
    for a, b in combinations(sorted(nodes.values(), key=lambda n: (len(n.members), n.name)), 2):
        for lower, upper in ((a, b), (b, a)):
            if set(lower.members) < set(upper.members):
                violated = lower.confidence > upper.confidence + tol
                if violated:
                    violations.append((lower.name, upper.name))
                if len(upper.members) == len(lower.members) + 1:
                    edges.append(LatticeEdge(lower.name, upper.name, violated))
    return Lattice(nodes, edges, violations)
