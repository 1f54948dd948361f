"""simulate: synthetic bank customers with a known churn mechanism, written to a file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from churnctl import outputs
from churnctl.lifecycle.results import Result
from churnctl.synthetic import Drift, simulate_customers


@dataclass
class SimulateResult(Result):
    output: str
    rows: int
    seed: int
    churn_rate: float
    drift: dict


def simulate(rows: int, seed: int, output: str, drift: Drift | None = None) -> SimulateResult:
    drift = drift or Drift()
    frame = simulate_customers(rows, seed=seed, drift=drift)
    path = Path(output)
    if path.suffix.lower() == ".json":
        records = json.loads(frame.to_json(orient="records"))
        with outputs.atomic_output(path) as out:
            out.tmp.write_text(json.dumps(records[0] if rows == 1 else records, indent=2) + "\n")
    else:
        outputs.write_table(frame, path)
    return SimulateResult(
        output=str(path),
        rows=rows,
        seed=seed,
        churn_rate=float(frame["Exited"].mean()),
        drift={k: v for k, v in asdict(drift).items() if v},
    )
