"""Package managers beyond apt, one module each."""
