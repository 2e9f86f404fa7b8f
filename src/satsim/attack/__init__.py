"""Stage ``attack``: untargeted L-inf PGD on one model, in the canonical [0, 1] pixel space."""
