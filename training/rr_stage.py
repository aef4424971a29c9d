"""`dacl-train rr`: the RR rhythm model trained on every shared LTAFDB and MIT-BIH record, into a bundle.

1. Leave-records-out CV (training/rr_cv.py) gives out-of-fold probabilities for every record; the beat
   episode settings are chosen on them by the EC57 objective, and the nested estimate is recorded.
2. The final model is trained on all records with the same configuration.
3. It is exported as rr_rhythm.onnx (checked against PyTorch within 1e-5) and the manifest's "rr_model"
   block names its features, classes, episode settings and the CV figures (engines/rr_model.py).
4. With MIT-BIH signal records, the AF alarm's fusion of the RR model with the DACL window is fitted on
   them, each record's RR input from the fold model that never saw it (training/alarm_fusion.py), and
   written as the manifest's "alarm" block with its episode settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.rr_features import CENTRE, FEATURES, N_INTERVALS, RR_CLIP_S
from training.rr_cv import TRAIN_SOURCES, Corpus, cross_validate, mitdb_folds, training_rows, warm_cache
from training.rr_data import ErrorProfile
from training.rr_model import TrainConfig, train_model

log = logging.getLogger(__name__)


def train_rr_stage(bundle: str | Path, ltafdb: Path, mitdb: Path | None, cache: Path | None, *,
                   folds: int = 5, seed: int = 0, cfg: TrainConfig | None = None,
                   progress: Callable[[str], None] | None = None, nstdb: Path | None = None,
                   alarm_windows: Path | None = None) -> dict:
    """Cross-validate, train on everything, and write the RR model (and the alarm) into `bundle`.

    Returns the "rr_model" block. nstdb: recorded noise for the alarm's noisy copies; alarm_windows: a
    folder to keep what the alarm saw at each window (npz per analysis), for study.
    """
    from engines.rr_model import write_rr_model

    say = progress or log.info
    cfg = cfg or TrainConfig(seed=seed)
    corpus = Corpus.from_roots(ltafdb, mitdb)
    profile = ErrorProfile()
    t0 = time.time()
    fold_models: dict = {}
    if warm_cache(corpus, cache, profile, progress=say):
        say(f"beat features computed in {time.time() - t0:.0f} s")
    cv = cross_validate(corpus, cache, folds, seed, profile, cfg, progress=say, models=fold_models)
    say(f"cross-validation done in {time.time() - t0:.0f} s; settings {cv['chosen_on_all']}")
    members = [(db, r) for db, recs in corpus.records.items() for r in recs]
    x, y, w = training_rows(corpus, members, cache, profile)
    model = train_model(x, y, w, cfg)
    say(f"final model trained on {len(x):,} rows")
    rng = np.random.default_rng(seed)
    example = x[rng.choice(len(x), size=min(512, len(x)), replace=False)]
    episodes = {**cv["chosen_on_all"], "chosen_by": "leave-records-out CV on LTAFDB .qrs and MIT-BIH beats "
                "with detector errors, EC57 objective (training.rr_model.objective)",
                "cv": {"nested": cv["nested"], "nested_settings": cv["nested_settings"], "folds": folds,
                       "seed": seed}}
    spec = {"features": list(FEATURES), "n_intervals": N_INTERVALS, "centre_intervals": CENTRE,
            "rr_clip_s": list(RR_CLIP_S), "episodes": episodes,
            "decision": "at beat i about beat i - n_intervals/2 (the window's centre)",
            "training": {"records": {db: recs for db, recs in corpus.records.items()},
                         "sources": {db: list(s) for db, s in TRAIN_SOURCES.items()}, "rows": int(len(x)),
                         "error_profile": profile.__dict__, "config": cfg.__dict__,
                         "seconds": round(time.time() - t0, 1)}}
    block = write_rr_model(bundle, model, spec, example)
    if mitdb is not None:
        from core.beat_episodes import BeatEpisodeSettings
        from training.alarm_fusion import train_alarm_stage

        mit_folds = mitdb_folds(corpus, folds, seed)
        alarm = train_alarm_stage(bundle, mitdb, nstdb, {r: m for (db, r), m in fold_models.items()
                                                         if db == "mitdb"}, mit_folds,
                                  BeatEpisodeSettings.from_manifest(cv["chosen_on_all"]), seed, say,
                                  alarm_windows)
        say(f"alarm fitted in {alarm['training']['seconds']:.0f} s; settings {alarm['episodes']}")
    return block
