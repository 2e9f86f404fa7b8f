"""Stage ``models``: which models exist (registry), how a name becomes a model (factory), weights,
training, and the wrapper that lets every model read the canonical pixel space."""
