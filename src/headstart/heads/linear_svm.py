"""`LinearSVM`: one-vs-rest L2 linear SVM with squared hinge — the "CNN features
off-the-shelf" head (Razavian et al. 2014)."""

from __future__ import annotations

from headstart.heads.linear_probe import LinearProbe
from headstart.heads.registry import register_head


class LinearSVM(LinearProbe):
    """One-vs-rest linear SVM, squared hinge, L2; C by inner CV (held-out accuracy).

    Same parameters and solver as `LinearProbe`. Its scores are margins, not log-odds, so
    `predict_proba` (softmax of margins) ranks well but is not calibrated.
    """

    _loss = "squared-hinge"


register_head("linear-svm", LinearSVM)
