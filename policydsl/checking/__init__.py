"""Names, types and units: the Model, the type checker, the pipeline every command starts with."""
