"""Stages ``transfer`` and ``sat``: how well one model's adversarial images fool another, and the
SAT matrix built from it (plus the authors' released matrix)."""
