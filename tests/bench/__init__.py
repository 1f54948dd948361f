"""The pieces of ``make bench`` (entry point: ``tests/benchmarks.py``).

``measure`` times whole processes, ``workspace`` prepares data, artifacts and the peer's venv,
``operations`` says what is compared with what, ``report`` renders the tables, ``drift_sim`` is the
optional drift-decision simulation. ``floors.py`` and ``peer_evidently.py`` are scripts run as
separate processes (the second in the peer's own venv), so they import nothing from here.
"""
