"""The HTTP service, in-process and live."""
