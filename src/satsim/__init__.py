"""satsim: similarity of neural architectures by adversarial attack transferability (SAT).

Library entry points (all work on in-memory models and tensors, outside Snakemake too):

- :func:`satsim.similarity.sat.sat_matrix` – the SAT matrix from clean and transfer predictions.
- :func:`satsim.attack.pgd.pgd_attack` – untargeted L-inf PGD in the canonical [0, 1] pixel space.
- :class:`satsim.models.wrapper.CanonicalModel` – makes any classifier read canonical images.
"""

__version__ = "0.1.0"
