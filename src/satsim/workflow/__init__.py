"""Snakemake plumbing: config validation, artefact files, provenance, script sessions."""
