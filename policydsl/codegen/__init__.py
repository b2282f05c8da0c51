"""Back ends that turn a checked policy into code."""
