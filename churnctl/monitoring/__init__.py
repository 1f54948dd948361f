"""Monitoring over time: labels that arrive after the predictions, joined to what was answered and
measured per period and model version; the drift history as series over time. Like
:mod:`churnctl.drift`, it never touches the registry: :mod:`churnctl.lifecycle` loads what it needs."""
