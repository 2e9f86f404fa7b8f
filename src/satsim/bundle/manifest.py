"""A bundle's manifest: what it holds and the sha256 of every file, sealed by a hash of itself.

The manifest (``manifest.json`` at the bundle's top) is the one file whose integrity the file
list cannot vouch for, so it carries ``manifest_sha256``: the sha256 of its own canonical JSON
without that field. Changing any value (a hash, the config, an image id) breaks the seal.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from satsim.workflow.atomic import write_text

FORMAT = "satsim-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SEAL = "manifest_sha256"
IMPORT_RECORD = "bundle_import.json"  # what an import placed, in the run folder it filled


class BundleError(ValueError):
    """A bundle that cannot be imported here: tampered, of a newer format, or made from another
    eval set, attack or model; the message names the file or the setting and what to do."""


def _canonical_sha256(manifest: dict[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Seal ``manifest`` and write it atomically (indented, key-sorted: byte-stable)."""
    sealed = {**manifest, SEAL: _canonical_sha256(manifest)}
    write_text(path, json.dumps(sealed, indent=2, sort_keys=True) + "\n")
    return sealed


def read_manifest(bundle: str | Path) -> dict[str, Any]:
    """The manifest of the bundle folder ``bundle``, refused unless it is readable, of a format
    this satsim reads, and unchanged since it was sealed."""
    path = Path(bundle) / MANIFEST
    if not path.is_file():
        raise BundleError(
            f"{path}: not found; bundle.import must name a bundle folder (the bundle/ folder "
            "that 'snakemake bundle' writes under results/<run>/)"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(
            f"{path}: not valid JSON ({error}); the bundle is damaged: copy it again"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a satsim bundle manifest (no format: {FORMAT})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version!r} is newer than this satsim reads "
            f"(version {FORMAT_VERSION}); the bundle was made by satsim "
            f"{manifest.get('satsim_version', '?')}: upgrade satsim to import it"
        )
    if manifest.get(SEAL) != _canonical_sha256(manifest):
        raise BundleError(
            f"{path}: changed after the bundle was made (its contents no longer match its "
            f"{SEAL}); the bundle is damaged or was edited: copy it again from its source"
        )
    return manifest
