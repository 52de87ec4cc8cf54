"""The pure core of ``citewise eval``: question files, scoring one answer, aggregate metrics.

Nothing here runs a model or touches the knowledge base, so every rule is testable on hand-made
cases; the command that runs the pipeline over a question file builds on it."""
