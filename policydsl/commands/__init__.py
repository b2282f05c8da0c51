"""The command layer: click, wiring and what each command prints."""
