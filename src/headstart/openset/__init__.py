"""Knowing what a head does not know: open-set scores, their metrics, calibration."""

from headstart.openset.scores import OPEN_SET_SCORES, OpenSetScore, create_score

__all__ = ["OPEN_SET_SCORES", "OpenSetScore", "create_score"]
