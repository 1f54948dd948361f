"""The current pointer (``current.json``: the current model version and the history of those that
were current) and the pruning of versions, as part of :class:`churnctl.registry.store.Registry`.

The pointer is signed like a manifest and bound to its registry, so that whoever can write the
artifacts directory but not the key cannot choose the current model by editing it. Each write gets
a new ``move`` id that the ``model_promoted`` or ``model_rolled_back`` event of the change records:
a pointer whose move is not the event log's last one is an older copy put back (or a run killed
between the two writes, whose move the log does not hold at all: the next writer records it).
Every change of the pointer is made here, with its event, never by a caller writing one after the other.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churnctl.errors import ArtifactError, UsageError
from churnctl.registry import identity, ids
from churnctl.registry.events import events_backwards
from churnctl.registry.files import read_json
from churnctl.runtime.files import make_dirs, write_json_atomic

if TYPE_CHECKING:
    from churnctl.registry.signing import KeySource

log = logging.getLogger(__name__)

POINTER_EVENTS = ("model_promoted", "model_rolled_back")
_FIX = "check which version should be current ('churnctl models history'), then 'churnctl models promote VERSION'"


class CurrentPointer:
    """The pointer's operations; the registry provides the paths, the key and the version checks."""

    root: Path
    current_path: Path
    events_path: Path
    models_dir: Path
    staging_dir: Path
    keys: KeySource

    if TYPE_CHECKING:

        def model_dir(self, version: str) -> Path: ...

        def verify(self, version: str) -> None: ...

        def identity(self) -> str | None: ...

        def record(self, event: str, **fields: Any) -> dict[str, Any]: ...

        def events(self) -> list[dict]: ...

        def versions(self) -> list[str]: ...

        def require_exists(self) -> None: ...

    # -- reading -------------------------------------------------------------------------------

    def _read_pointer(self) -> dict[str, Any]:
        """The pointer as stored, its ids checked (nothing else): current, history, move, signature."""
        if not self.current_path.exists() and not self.current_path.is_symlink():
            return {"current": None, "history": [], "move": None, "exists": False, "document": {}}
        document = read_json(self.current_path)
        history = document.get("history", [])
        if not isinstance(history, list):
            raise ArtifactError(f"{self.current_path} is damaged: 'history' is not a list", hint=_FIX)
        where = str(self.current_path)
        current = document.get("current")
        move = document.get("move")
        return {
            "current": None if current is None else ids.stored_version(current, where),
            "history": [ids.stored_version(v, where) for v in history],
            "move": move if isinstance(move, str) else None,
            "exists": True,
            "document": document,
        }

    def pointer_state(self) -> dict[str, Any]:
        """The pointer, after checking that churnctl wrote it for this registry (signature and registry
        id, once the registry has an id) and that the version it names is stored."""
        pointer = self._read_pointer()
        if pointer["exists"]:
            self._check_signed(pointer["document"])
        current = pointer["current"]
        if current is not None and not (self.models_dir / current / "manifest.json").exists():
            raise ArtifactError(
                f"{self.current_path} names {current}, which is not stored in {self.models_dir}",
                hint="restore that version from a backup, or make a stored version current: "
                "'churnctl models promote VERSION'",
            )
        return pointer

    def _check_signed(self, document: dict[str, Any]) -> None:
        mine = self.identity()
        if mine is None and "signature" not in document:
            return  # a registry written before pointers were signed: bound by its next writer
        what = f"the current pointer {self.current_path}"
        if "signature" not in document:
            raise ArtifactError(f"{what} is not signed: it was written or edited outside churnctl", hint=_FIX)
        try:
            self.keys.get().verify(document, what)
        except ArtifactError as exc:
            raise ArtifactError(exc.message, hint=_FIX) from None
        identity.check_bound(document, mine, what, self.root)

    def _pointer(self) -> dict[str, Any]:
        return self.pointer_state()

    def current(self) -> str | None:
        return self._pointer()["current"]

    def require_current(self) -> str:
        """The current version, for readers: a pointer that the event log does not explain is used with
        a warning (``models verify`` fails on it, writers refuse it); a missing pointer of a registry
        whose log made a version current is an artifact problem."""
        self.require_exists()
        pointer = self.pointer_state()
        version = pointer["current"]
        last = next((e for e in events_backwards(self.events_path) if _is_move(e)), None)
        if version is None:
            if last is not None:
                raise ArtifactError(
                    f"{self.current_path} is missing, but the event log says {last['version']} was made current",
                    hint="restore current.json from a backup, or " + _FIX.split(", then ")[1],
                )
            raise ArtifactError(
                f"no current model in {self.root}", hint="run 'churnctl train' (the first model becomes current)"
            )
        agrees = last is not None and last["version"] == version and last.get("move") in (None, pointer["move"])
        if not agrees:
            problem = disagreement(pointer, self.events())  # the whole log, only in this rare case
            if problem is not None:
                log.warning("%s; 'churnctl models verify' checks the registry", problem)
        return version

    def promotion_history(self) -> list[str]:
        return list(self._pointer()["history"])

    def protected_versions(self) -> set[str]:
        """The current model and the previous champion: never pruned."""
        pointer = self._pointer()
        return {v for v in (pointer["current"], *pointer["history"][-2:]) if v is not None}

    # -- agreement with the event log -----------------------------------------------------------

    def pointer_disagreement(self, events: list[dict] | None = None) -> str | None:
        """What is wrong between the pointer and the event log's last change of the current model, or None."""
        return disagreement(self.pointer_state(), self.events() if events is None else events)

    def check_pointer_agrees(self) -> None:
        """For writers that rely on the current model: refuse a pointer the event log does not explain."""
        problem = self.pointer_disagreement()
        if problem is not None:
            raise ArtifactError(problem, hint=_FIX)

    # -- writing (with the lock held) -----------------------------------------------------------

    def _write_pointer(self, current: str | None, history: list[str], move: str | None = None) -> str:
        """Write a signed pointer; returns its move id (``move``: keep that of the pointer it rewrites)."""
        move = move or uuid.uuid4().hex
        document: dict[str, Any] = {"current": current, "history": history, "move": move}
        mine = self.identity()
        if mine is not None:
            document[identity.FIELD] = mine
            document = self.keys.get(create=True).sign(document)
        write_json_atomic(self.current_path, document)
        return move

    def set_current(self, version: str, *, reason: str = "manual promote", repair: bool = False) -> str | None:
        """Make ``version`` current and log it (``model_promoted``); returns the previous current version.

        With ``repair``, a damaged or untrusted pointer is replaced (keeping the valid entries of its
        history) instead of refused: that is how a user rewrites it on purpose (``models promote``).
        """
        self.model_dir(version)
        try:
            pointer = self._pointer()
        except ArtifactError:
            if not repair:
                raise
            pointer = {"current": None, "history": self._salvaged_history()}
        previous = pointer["current"]
        history = list(pointer["history"])
        if previous == version and (not repair or self.pointer_disagreement() is None):
            return previous  # nothing to change (a promote of it confirms a pointer the log does not explain)
        if previous != version:
            history.append(version)
        move = self._write_pointer(version, history)
        self.record("model_promoted", version=version, previous=previous, reason=reason, move=move)
        return previous

    def _salvaged_history(self) -> list[str]:
        try:
            history = read_json(self.current_path).get("history", [])
        except ArtifactError:
            return []
        return (
            [v for v in history if ids.is_version(v) and (self.models_dir / v).is_dir()]
            if isinstance(history, list)
            else []
        )

    def rollback(self) -> tuple[str, str]:
        """Return to the previous champion, and log it; returns (from_version, to_version)."""
        history = self.promotion_history()
        if len(history) < 2:
            first = f"{history[0]} is the first model that was current" if history else "no model is current"
            raise UsageError(
                f"nothing to roll back to: {first} (earlier rollbacks have undone every later promotion)",
                hint="'churnctl models history' shows what has been current; 'churnctl models promote VERSION' "
                "makes any version current",
            )
        leaving, target = history[-1], history[-2]
        self.verify(target)  # never roll back onto a damaged or tampered version
        move = self._write_pointer(target, history[:-1])
        self.record("model_rolled_back", version=target, previous=leaving, move=move)
        return leaving, target

    def sign_legacy_pointer(self, registry_id: str) -> None:
        """Sign an unsigned pointer of a registry that just got its id, if the event log agrees with it
        (a pointer it does not explain stays unsigned, and is refused until a user promotes a version)."""
        try:
            pointer = self._read_pointer()
        except ArtifactError:
            return
        if not pointer["exists"] or "signature" in pointer["document"]:
            return
        events = self.events()
        problem = disagreement(pointer, events)
        if problem is not None:
            return
        move = self._write_pointer(pointer["current"], pointer["history"])
        self.record("pointer_signed", version=pointer["current"], registry_id=registry_id, move=move)

    def keep_newest(self, keep: int) -> list[str]:
        """Prune the oldest versions beyond ``keep`` (never the current model or the previous champion),
        logging them; returns the versions pruned."""
        versions = self.versions()
        history = self.promotion_history()
        protected = {self.current(), *history[-2:]}
        pruned: list[str] = []
        for version in versions:
            if len(versions) - len(pruned) <= keep:
                break
            if version not in protected:
                self.prune(version)
                pruned.append(version)
        if pruned:
            self.record("models_pruned", versions=pruned, keep=keep)
        return pruned

    def prune(self, version: str) -> None:
        """Delete a model version: moved out of ``models/`` in one step, then removed.

        Refused for the current model and the previous champion, compared as resolved real paths so
        that no spelling or link in a registry file can make a protected version look like another.
        """
        folder = self.model_dir(version)
        protected = self.protected_versions()
        real = folder.resolve()
        if version in protected or any((self.models_dir / v).resolve() == real for v in protected):
            raise ArtifactError(f"refusing to delete model {version}: it is the current model or the previous champion")
        trash = self.staging_dir / f"pruned-{version}-{uuid.uuid4().hex[:8]}"
        make_dirs(trash.parent)
        os.rename(folder, trash)
        pointer = self._pointer()
        if version in pointer["history"]:
            history = [v for v in pointer["history"] if v != version]
            self._write_pointer(pointer["current"], history, move=pointer["move"])
        shutil.rmtree(trash, ignore_errors=True)


def _is_move(event: dict) -> bool:
    """A change of the current model (the log is not signed: an event that names no version is about nothing)."""
    return event.get("event") in POINTER_EVENTS and ids.is_version(event.get("version"))


def last_move(events: list[dict]) -> dict | None:
    """The event log's last change of the current model."""
    return next((e for e in reversed(events) if _is_move(e)), None)


def unlogged(pointer: dict[str, Any], events: list[dict]) -> bool:
    """Whether ``pointer`` is a change churnctl wrote (signed) and the log has not recorded at all: a run
    stopped between the two writes; the next writer records it."""
    if "signature" not in pointer["document"] or pointer["move"] is None or pointer["current"] is None:
        return False
    return all(e.get("move") != pointer["move"] for e in events)


def disagreement(pointer: dict[str, Any], events: list[dict]) -> str | None:
    """Why ``pointer`` (as :meth:`CurrentPointer._read_pointer` returns it) is not what the event log's
    last change of the current model made it, or None when they agree (or when the pointer is a change
    the log has not recorded yet, see :func:`unlogged`)."""
    if unlogged(pointer, events):
        return None
    last = last_move(events)
    current, path = pointer["current"], "current.json"
    if last is None:
        return None if current is None else f"{path} names {current}, but the event log records no promotion"
    logged = last.get("version")
    when = f"at {last.get('time')}" if isinstance(last.get("time"), str) else "last"
    if current is None:
        return f"{path} names no current model, but the event log says {logged!r} was made current {when}"
    if logged != current:
        return (
            f"{path} names {current}, but the event log's last change made {logged!r} current ({when}): the "
            "pointer was changed outside churnctl, or put back from an older copy"
        )
    if isinstance(last.get("move"), str) and pointer["move"] is not None and pointer["move"] != last["move"]:
        return (
            f"{path} names {current} as the event log does, but it is not the pointer that change wrote "
            f"({when}): it was put back from an older copy"
        )
    return None
