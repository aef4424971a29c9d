"""2-D projection of embeddings for the latent-trajectory plot (LDA) and the per-class reference cloud."""

from __future__ import annotations

import numpy as np


def fit_lda_projection(emb: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), matrix (D, 2)) so that (emb − mean) @ matrix is the LDA plane separating the classes."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    lda = LinearDiscriminantAnalysis(n_components=2, solver="eigen", shrinkage="auto").fit(emb, y)
    return emb.mean(0).astype(np.float32), lda.scalings_[:, :2].astype(np.float32)


def reference_cloud(
    points: np.ndarray, y: np.ndarray, classes: tuple[str, ...], per_class: int, seed: int
) -> dict[str, list[list[float]]]:
    """Up to `per_class` random 2-D points of each class (rounded), for the plot's background cloud."""
    rng = np.random.default_rng(seed)
    cloud = {}
    for c, code in enumerate(classes):
        idx = np.flatnonzero(y == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else idx
        cloud[code] = np.round(points[np.sort(pick)], 4).tolist()
    return cloud
