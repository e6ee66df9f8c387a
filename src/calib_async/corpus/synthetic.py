"""The synthetic corpus: N proof files for the simulated checker, plus a manifest of latent truth.

The manifest (``<out_dir>/synthetic/manifest.json``) records each item's truth and the
parameters the simulated checker draws from. Tests and the recovery study read it; the
pipeline never does — labelling must establish ground truth as it must for Lean.

Latent model per item (seeded by ``seed``):

* kind: valid (60 %), error (12 %), sorry (9 %), native_decide (7 %), subtle (12 %).
  ``subtle`` is an invalid proof whose error the checker misses with probability ``miss``
  (scaled by tier precision) — the source of spurious passes that no tier escapes.
* durations: Weibull(shape 1.5, scale ``scale_ms``) per run; ``scale_ms`` is log-normal across
  items (median 80 ms), and 7 % of items are hard (1.2-3 s), so every tier sees timeouts.
* memory: ``mem_mb`` touched per run (median 11 MB); 5 % of items need 100-225 MB, beyond the
  FAST limit (80 MB) and often the BALANCED one (160 MB).
* ``flake``: chance of a resource-related spurious failure per run (valid items: 5 %).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from calib_async.records import CorpusItem

KINDS = (
    ("valid", 0.60),
    ("error", 0.12),
    ("sorry", 0.09),
    ("native_decide", 0.07),
    ("subtle", 0.12),
)


def _body(kind: str, i: int) -> str:
    return {
        "valid": "  trivial",
        "error": f"  exact absurd_lemma_{i}",
        "sorry": "  sorry",
        "native_decide": "  native_decide",
        "subtle": f"  exact subtle_gap_{i}",
    }[kind]


def _draw_item(rng: random.Random, i: int) -> dict[str, object]:
    r = rng.random()
    acc = 0.0
    kind = KINDS[-1][0]
    for name, p in KINDS:
        acc += p
        if r < acc:
            kind = name
            break
    hard = rng.random() < 0.07
    scale = rng.uniform(1200, 3000) if hard else 80.0 * rng.lognormvariate(0.0, 0.7)
    hungry = rng.random() < 0.05
    mem = rng.uniform(100, 225) if hungry else 5.0 + 6.0 * rng.lognormvariate(0.0, 0.5)
    return {
        "kind": kind,
        "valid": kind == "valid",
        "scale_ms": round(scale, 3),
        "shape": 1.5,
        "mem_mb": round(mem, 1),
        "miss": 0.5 if kind == "subtle" else 0.0,
        "flake": 0.05,
        "hard": hard,
        "hungry": hungry,
    }


def generate_synthetic_corpus(n: int, out_dir: Path, seed: int) -> list[CorpusItem]:
    """Write ``n`` synthetic proofs under ``out_dir/synthetic`` and return them as items.

    Deterministic in (n, seed): the same call writes the same bytes.
    """
    root = out_dir.resolve() / "synthetic"
    proofs = root / "Synthetic"
    proofs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"calib-async-synthetic-{seed}")
    items: list[CorpusItem] = []
    manifest: dict[str, object] = {}
    for i in range(n):
        params = _draw_item(rng, i)
        module = f"Synthetic.Proof{i:06d}"
        pragma = " ".join(
            f"{k}={params[k]}" for k in ("scale_ms", "shape", "mem_mb", "miss", "flake")
        )
        text = (
            f"-- synthetic proof {module} (calib-async)\n"
            f"-- @sim {pragma}\n"
            f"theorem synthetic_{i} : True := by\n"
            f"{_body(str(params['kind']), i)}\n"
        )
        path = proofs / f"Proof{i:06d}.lean"
        data = text.encode()
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        items.append(
            CorpusItem(
                item_id=module,
                module_name=module,
                path=str(path),
                content_hash=hashlib.sha256(data).hexdigest(),
            )
        )
        manifest[module] = params
    (root / "manifest.json").write_text(
        json.dumps({"seed": seed, "n": n, "items": manifest}, indent=1, sort_keys=True)
    )
    return items


def load_manifest(out_dir: Path) -> dict[str, dict[str, object]]:
    """Latent truth per item id (for tests and studies only)."""
    data = json.loads((out_dir / "synthetic" / "manifest.json").read_text())
    items: dict[str, dict[str, object]] = data["items"]
    return items
