"""One module per command: a function of keyword arguments that returns an exit code."""
