"""Stage ``data``: the evaluation and training images, as uint8 tensors in the canonical space."""
