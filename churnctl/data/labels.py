"""Late labels on disk: the predictions of scored files (what labels are joined to, beside the
prediction log's in :mod:`churnctl.data.predlog_reader`), and the label store, labelled predictions
kept in the artifacts directory.

::

    <artifacts>/labels/joined.parquet   every labelled prediction (see churnctl.monitoring.labels)
    <artifacts>/labels/added.jsonl      one line per labels file added: its SHA-256, counts, when

``joined.parquet`` is replaced whole (written beside it, synced, renamed), then the file's line is
appended to ``added.jsonl``: a run killed between the two leaves the rows, and adding the file again
finds them already there and only writes the line. Readers need no lock. Writers hold the registry lock.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from churnctl.data.sources import is_url, resolve
from churnctl.errors import ArtifactError, DataError, os_hint, os_reason, preview
from churnctl.runtime.files import file_mode, fsync_dir, make_dirs

COLUMNS = {
    "id": "string",
    "predicted_at": "datetime64[ns, UTC]",
    "model_version": "string",
    "source": "string",
    "origin": "string",
    "churn_probability": "float64",
    "churn_label": "int8",
    "label": "int8",
    "labels_sha256": "string",
}


SCORED = ("churn_probability", "churn_label", "model_version")  # what predict --output writes


def scored_predictions(spec: str, id_column: str, scored_at: pd.Timestamp | None) -> tuple[pd.DataFrame, int]:
    """The predictions of a file (folder, glob, URL) written by ``churnctl predict --output`` with the
    ``id_column`` it kept, timed ``scored_at`` (default: each local file's modification time); and how
    many rows carried no id."""
    frames, without = [], 0
    for part in resolve(spec).parts:
        header = part.header()
        absent = [c for c in (id_column, *SCORED) if c not in header]
        if absent:
            raise DataError(
                f"{part.name} lacks the column(s) {preview(absent)} of a scored file",
                hint=f"give files written by 'churnctl predict --output' from inputs with the {id_column!r} column",
            )
        when = scored_at
        if when is None:
            if is_url(part.location):
                raise DataError(f"{part.name} is a URL: when it was scored is unknown", hint="pass --scored-at DATE")
            when = pd.Timestamp(os.path.getmtime(part.location), unit="s", tz="UTC")
        origin = f"scored file {part.sha256()}"
        for batch in part.batches([id_column, *SCORED], 200_000):
            frame = pd.DataFrame(
                {
                    "id": batch[id_column],
                    "predicted_at": when,
                    "model_version": batch["model_version"].astype("string"),
                    "churn_probability": pd.to_numeric(batch["churn_probability"], errors="coerce"),
                    "churn_label": pd.to_numeric(batch["churn_label"], errors="coerce"),
                    "source": part.name,
                    "origin": origin,
                }
            )
            bad = frame[["id", "churn_probability", "churn_label"]].isna().any(axis=1)
            without += int(bad.sum())
            frames.append(frame[~bad])
    if not frames:
        raise DataError(f"{spec} holds no scored rows", hint="give files written by 'churnctl predict --output'")
    return pd.concat(frames, ignore_index=True), without


class LabelStore:
    def __init__(self, root: Path):
        self.folder = root / "labels"
        self.joined_path = self.folder / "joined.parquet"
        self.ledger_path = self.folder / "added.jsonl"

    def joined(self) -> pd.DataFrame:
        """Every labelled prediction stored (an empty frame of the columns when there is none)."""
        if not self.joined_path.exists():
            return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})
        try:
            frame = pd.read_parquet(self.joined_path)
        except (OSError, ValueError) as exc:
            raise ArtifactError(
                f"cannot read the label store {self.joined_path}: {exc}",
                hint="restore it from a backup, or move it aside and add the labels files again",
            ) from None
        absent = [name for name in COLUMNS if name not in frame.columns]
        if absent:
            raise ArtifactError(
                f"the label store {self.joined_path} lacks the column(s) {preview(absent)}",
                hint="move it aside and add the labels files again",
            )
        return frame[list(COLUMNS)].astype(COLUMNS)

    def added(self) -> list[dict[str, Any]]:
        """The labels files added so far, oldest first (damaged lines skipped)."""
        if not self.ledger_path.exists():
            return []
        entries = []
        with open(self.ledger_path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def save(self, joined: pd.DataFrame | None, entry: dict[str, Any]) -> None:
        """Replace the labelled predictions with ``joined`` (None: unchanged), then record ``entry``."""
        try:
            make_dirs(self.folder)
            if joined is not None:
                self._replace(joined[list(COLUMNS)].astype(COLUMNS))
            line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
            fd = os.open(self.ledger_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, file_mode())
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ArtifactError(
                f"cannot write the label store in {self.folder}: {os_reason(exc)}",
                hint=os_hint(exc, "make the artifacts directory writable"),
            ) from None

    def _replace(self, frame: pd.DataFrame) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".joined.", suffix=".parquet.tmp", dir=self.folder)
        os.close(fd)
        try:
            os.chmod(tmp, file_mode())
            frame.to_parquet(tmp, index=False)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.joined_path)
            fsync_dir(self.folder)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
