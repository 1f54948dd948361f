"""simulate: synthetic customers of a profile with a known churn mechanism, written to a file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from churnctl.data import outputs
from churnctl.errors import UsageError
from churnctl.lifecycle.results import Result
from churnctl.synthetic import Drift, profile, simulate_customers


@dataclass
class SimulateResult(Result):
    output: str
    rows: int
    seed: int
    churn_rate: float
    drift: dict
    profile: str = "bank"
    target: str = "Exited"


WRITTEN = (".csv", ".csv.gz", ".csv.bz2", ".parquet", ".json")


def simulate(
    rows: int, seed: int, output: str, drift: Drift | None = None, profile_name: str = "bank"
) -> SimulateResult:
    drift = drift or Drift()
    chosen = profile(profile_name)
    if not output.lower().endswith(WRITTEN):
        raise UsageError(
            f"--output {output}: cannot tell which format to write from its name",
            hint=f"end it with {', '.join(WRITTEN)}",
        )
    frame = simulate_customers(rows, seed=seed, drift=drift, profile_name=profile_name)
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
        churn_rate=float((frame[chosen.target] == chosen.labels[1]).mean()),
        drift={k: v for k, v in asdict(drift).items() if v},
        profile=chosen.name,
        target=chosen.target,
    )
