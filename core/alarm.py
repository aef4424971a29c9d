"""The AF alarm's model: the RR rhythm model's verdict fused with the DACL window's evidence.

Each part does what it is good at. The RR model (core.rr_features → rr_rhythm.onnx, learned on 1,500 h of
Holter beats) sees the irregularity of the last 64 beats; the DACL window (6.8 s of signal) sees P waves,
f-waves, QRS morphology and noise. A logistic regression over both, fitted by leave-records-out
cross-validation on annotated Holter records (training/alarm_fusion.py), gives p(AF) for each window;
the episode detector (core.events) follows it. Its inputs, standardisation, weights and episode settings
travel in the bundle's manifest ("alarm"); a bundle naming an input this code does not compute is refused.

Until the RR model has its first decision on a stream (64 beats, about a minute) the RR inputs are 0 and
`rr_ready` is 0, so the alarm rests on the window alone and the weights' bias keeps it cautious.

A bed marked paced (by the user, `MonitoringSession.set_paced`) is read by the manifest's "paced" fit,
over the RR model's inputs alone: a paced QRS is wide and has no P wave by design, which the window's
evidence (learned on unpaced patients) takes for AF, while the beat sequence still shows AF's
irregularity where it is conducted.

The alarm's probabilities keep four classes so the detector and the display read them as any others:
p(AF) from the fusion, the rest of the mass shared out as the DACL window shares its non-AF classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engines.contract import CLASS_CODES

AF = CLASS_CODES.index("A")
RR_CLASSES = ("sinus", "af", "other")
_FLOOR = 1e-6


def alarm_inputs(dacl_probs: np.ndarray, rr_probs: np.ndarray) -> dict[str, np.ndarray]:
    """Every input the fusion may name, per window: {name: (B,) float64}.

    dacl_probs: (B, 4) the window's class probabilities; rr_probs: (B, 3) the RR model's latest
    p(sinus, AF, other), NaN rows where it has not decided yet.
    """
    lp = np.log(np.clip(np.asarray(dacl_probs, np.float64), _FLOOR, 1.0))
    rr = np.asarray(rr_probs, np.float64).reshape(len(lp), len(RR_CLASSES))
    ready = np.isfinite(rr).all(axis=1)
    lrr = np.where(ready[:, None], np.log(np.clip(np.nan_to_num(rr, nan=1.0), _FLOOR, 1.0)), 0.0)
    out = {f"rr_log_p_{c}": lrr[:, i] for i, c in enumerate(RR_CLASSES)}
    out["rr_ready"] = ready.astype(np.float64)
    out.update({f"dacl_log_p_{c}": lp[:, i] for i, c in enumerate(CLASS_CODES)})
    return out


INPUTS = tuple(alarm_inputs(np.full((1, len(CLASS_CODES)), 0.25), np.full((1, 3), 1 / 3)))


class AlarmFusion:
    """p(AF) of windows from their DACL probabilities and the RR model's latest decision."""

    def __init__(self, block: Mapping[str, Any], where: str = "manifest alarm") -> None:
        from engines.bundle_spec import check_alarm_block

        check_alarm_block(block)
        unknown = [n for n in block["inputs"] if n not in INPUTS]
        if unknown:
            raise ValueError(f"{where}.inputs: {unknown} are not computed by this build (core/alarm.py "
                             f"computes {list(INPUTS)}); "
                             "retrain the bundle or use the code it was trained with")
        self.inputs: Sequence[str] = tuple(block["inputs"])
        self.mean = np.asarray(block["mean"], np.float64)
        self.std = np.asarray(block["std"], np.float64)
        self.coef = np.asarray(block["coef"], np.float64)
        self.bias = float(block["bias"])
        self.paced = AlarmFusion(block["paced"], f"{where}.paced") if "paced" in block else None

    def p_af(self, dacl_probs: np.ndarray, rr_probs: np.ndarray) -> np.ndarray:
        """(B,) p(AF)."""
        feats = alarm_inputs(dacl_probs, rr_probs)
        x = np.stack([feats[n] for n in self.inputs], axis=1)
        z = ((x - self.mean) / self.std) @ self.coef + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))

    def probs(self, dacl_probs: np.ndarray, rr_probs: np.ndarray,
              paced: np.ndarray | None = None) -> np.ndarray:
        """(B, 4) alarm probabilities: p(AF) fused, the rest shared as the window shares its other classes.

        paced: (B,) bool, rows of paced beds, whose p(AF) comes from the "paced" fit (the RR model's
        inputs only); without one in the manifest, from the RR model's own p(AF) (0 before its first).
        """
        dacl = np.asarray(dacl_probs, np.float64)
        p = self.p_af(dacl, rr_probs)
        if paced is not None and np.any(paced):
            rows = np.asarray(paced, bool)
            if self.paced is not None:
                p[rows] = self.paced.p_af(dacl[rows], np.asarray(rr_probs)[rows])
            else:
                p[rows] = np.nan_to_num(np.asarray(rr_probs, np.float64)[rows, RR_CLASSES.index("af")])
        rest = dacl.copy()
        rest[:, AF] = 0.0
        total = rest.sum(axis=1, keepdims=True)
        rest = np.where(total > 0, rest / np.where(total > 0, total, 1.0), 1.0 / (len(CLASS_CODES) - 1))
        rest[:, AF] = 0.0
        out = rest * (1.0 - p)[:, None]
        out[:, AF] = p
        return out.astype(np.float32)


def rr_rows(rr_probs: Sequence[np.ndarray | None]) -> np.ndarray:
    """(B, 3) of a batch's latest RR decisions, NaN where a stream has none yet."""
    out = np.full((len(rr_probs), len(RR_CLASSES)), np.nan)
    for i, p in enumerate(rr_probs):
        if p is not None:
            out[i] = p
    return out
