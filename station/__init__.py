"""The station: the composition root. Which contexts, read models and workers exist is
declared by `handlers` and `projections`; how they are started, wired to the edge and managed
lives here, so `core` (the kernel) knows nothing of the modules that dock to it."""
