"""The registry: versions, signatures, trust, security."""
