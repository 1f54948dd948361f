"""The data contract: inferring, typing and enforcing it, and bad data handled alike everywhere."""
