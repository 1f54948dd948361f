"""The command-line skin: parse arguments, call one workflow function, render its result."""
