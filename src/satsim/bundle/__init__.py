"""Bundles: a finished run that travels (export, import, perturbation encoding)."""
