"""Stages after the SAT matrix: clusters, architectural components, ensembles, distillation."""
