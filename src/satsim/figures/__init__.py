"""One module per figure number (``fig1`` ... ``fig6``, numbering in DESIGN.md), the released-
matrix ``comparison``, and the shared ``style``.

Importing this package selects matplotlib's non-interactive Agg backend, so figures render the
same on a cluster node without a display."""

import matplotlib

matplotlib.use("Agg")
