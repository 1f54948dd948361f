"""The data contract: the schema, inferring it from a file, enforcing it on frames and on JSON rows, and
every data-error message once."""
