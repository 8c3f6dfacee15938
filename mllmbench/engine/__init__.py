"""The engine: resolves a run, executes batches, records samples, scores and assembles results."""
