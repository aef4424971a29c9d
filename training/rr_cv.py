"""Leave-records-out cross-validation of the RR rhythm model on LTAFDB + MIT-BIH beats, beside the anchor.

Records are split into folds (LTAFDB and MIT-BIH each dealt round-robin after a seeded shuffle, the four
MIT-BIH AF records on different folds). Each fold's model is trained on the other folds' records and
predicts every beat sequence of its own; the episode settings are then chosen on the pooled out-of-fold
probabilities ("chosen on all") and, nested, for each fold on the other folds only ("nested": what a new
patient gets). The anchor (core.rr_irregularity, Dash 2009) runs on the same beats.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.ec57 import af_reference
from core.rr_features import FEATURES
from core.rr_irregularity import rr_af_intervals
from training.rr_data import ErrorProfile, changes_of, record_features
from training.rr_model import Scored, TrainConfig, choose_settings, measures, predict, score_grid, train_model

log = logging.getLogger(__name__)

MITDB_AF = ("201", "203", "210", "222")
TRAIN_SOURCES = {"ltafdb": ("qrs", "atr", "atr+errors"), "mitdb": ("atr", "atr+errors")}
EVAL_SOURCES = {"ltafdb": ("qrs", "atr+errors"), "mitdb": ("atr", "atr+errors")}
TRAIN_STRIDE = 4  # every 4th decision of each training sequence (neighbours are nearly identical)
MITDB_WEIGHT = 8.0  # a MIT-BIH beat counts this much: 24 half-hours of hard ectopy against 1,500 h of Holter


@dataclass
class Corpus:
    """The records of each database and where they are."""

    roots: dict[str, Path]
    records: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_roots(cls, ltafdb: Path, mitdb: Path | None) -> Corpus:
        roots = {"ltafdb": Path(ltafdb)}
        if mitdb is not None:
            roots["mitdb"] = Path(mitdb)
        recs = {db: (root / "RECORDS").read_text().split() for db, root in roots.items()}
        return cls(roots, recs)


def folds(corpus: Corpus, k: int, seed: int) -> list[list[tuple[str, str]]]:
    """K lists of (database, record), each database dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    out: list[list[tuple[str, str]]] = [[] for _ in range(k)]
    for db, recs in corpus.records.items():
        first = [r for r in recs if db == "mitdb" and r in MITDB_AF]
        rest = [r for r in recs if r not in first]
        order = [first[i] for i in rng.permutation(len(first))] + \
            [rest[i] for i in rng.permutation(len(rest))]
        for i, r in enumerate(order):
            out[i % k].append((db, r))
    return out


def mitdb_folds(corpus: Corpus, k: int, seed: int) -> list[list[str]]:
    """The MIT-BIH record names in each of `folds`' k folds: the alarm's folds (its RR input out of fold)."""
    return [[r for db, r in part if db == "mitdb"] for part in folds(corpus, k, seed)]


def load(corpus: Corpus, db: str, rec: str, source: str, cache: Path | None, profile: ErrorProfile) -> dict:
    return record_features(corpus.roots[db] / rec, source, cache, profile)


def warm_cache(corpus: Corpus, cache: Path | None, profile: ErrorProfile, workers: int | None = None,
               progress: Callable[[str], None] | None = None) -> int:
    """Compute every missing (record, beat source) feature file into `cache`, one record per process.

    On a fresh machine this is most of the stage's cold start (about 5 s a 24 h record, 65 of them); the
    features do not depend on the process that computes them, so the files equal a serial run's.
    Returns how many were computed.
    """
    if cache is None:
        return 0
    from concurrent.futures import ProcessPoolExecutor

    from training.rr_data import cached_path

    todo = sorted({(db, rec, source) for db, recs in corpus.records.items() for rec in recs
                   for source in TRAIN_SOURCES[db] + EVAL_SOURCES[db]
                   if not cached_path(corpus.roots[db] / rec, source, cache, profile).is_file()})
    if not todo:
        return 0
    workers = workers or min(len(todo), os.cpu_count() or 1)
    with ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(record_features, corpus.roots[db] / rec, source, cache, profile)
                for db, rec, source in todo]
        for i, job in enumerate(jobs):
            job.result()
            if progress is not None and ((i + 1) % 20 == 0 or i + 1 == len(jobs)):
                progress(f"beat features: {i + 1}/{len(jobs)} computed ({workers} processes)")
    return len(todo)


def training_rows(corpus: Corpus, members: list[tuple[str, str]], cache: Path | None,
                  profile: ErrorProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and weights of the training sequences of `members` (every TRAIN_STRIDE-th row)."""
    xs, ys, ws = [], [], []
    for db, rec in members:
        for source in TRAIN_SOURCES[db]:
            d = load(corpus, db, rec, source, cache, profile)
            xs.append(d["features"][::TRAIN_STRIDE])
            ys.append(d["labels"][::TRAIN_STRIDE])
            ws.append(np.full(len(ys[-1]), MITDB_WEIGHT if db == "mitdb" else 1.0, np.float32))
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    counts = np.bincount(y, minlength=3).astype(np.float64)
    cw = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** 0.5, 0.0)
    return x, y, (w * cw[y]).astype(np.float32)


def reference(corpus: Corpus, db: str, rec: str, n_samples: int) -> list[tuple[int, int]]:
    """The record's reference AF intervals (read once per process: a 24 h .atr takes a second)."""
    return _reference(corpus.roots[db] / rec, n_samples)[0]


def labelled_from(corpus: Corpus, db: str, rec: str, n_samples: int) -> int:
    """The sample of the record's first rhythm annotation (its rhythm is unknown before it)."""
    return _reference(corpus.roots[db] / rec, n_samples)[1]


@functools.cache
def _reference(path: Path, n_samples: int) -> tuple[list[tuple[int, int]], int]:
    import wfdb

    ann = wfdb.rdann(str(path), "atr")
    changes, _ = changes_of(ann)
    return af_reference(ann.sample, ann.symbol, ann.aux_note, n_samples), \
        (int(changes[0]) if changes.size else n_samples)


def cross_validate(corpus: Corpus, cache: Path | None, k: int = 5, seed: int = 0,
                   profile: ErrorProfile | None = None, cfg: TrainConfig | None = None,
                   progress: Callable[[str], None] | None = None, oof_dir: Path | None = None,
                   models: dict | None = None) -> dict:
    """Out-of-fold predictions of every evaluation sequence, settings pooled and nested.

    oof_dir: where to save each sequence's out-of-fold p(AF) (npz per sequence), for further study.
    models: if given, filled with {(database, record): the fold model that never saw it}.
    """
    profile, cfg = profile or ErrorProfile(), cfg or TrainConfig(seed=seed)
    parts = folds(corpus, k, seed)
    scored: dict[tuple[str, str], list[Scored]] = {}  # (db, source) -> sequences
    fold_of: dict[str, int] = {}
    for f, members in enumerate(parts):
        train = [m for g, ms in enumerate(parts) if g != f for m in ms]
        x, y, w = training_rows(corpus, train, cache, profile)
        model = train_model(x, y, w, TrainConfig(**{**cfg.__dict__, "seed": cfg.seed + f}))
        for db, rec in members:
            fold_of[f"{db}/{rec}"] = f
            if models is not None:
                models[(db, rec)] = model
            for source in EVAL_SOURCES[db]:
                d = load(corpus, db, rec, source, cache, profile)
                n = int(d["n_samples"])
                p = predict(model, d["features"])[:, 1]
                if oof_dir is not None:
                    oof_dir.mkdir(parents=True, exist_ok=True)
                    name = f"{db}_{rec}_{source.replace('+', '_')}.npz"
                    np.savez(oof_dir / name, centres=d["centres"], p=p, n=n, fs=float(d["fs"]), fold=f)
                scored.setdefault((db, source), []).append(
                    Scored(f"{db}/{rec}", d["centres"], p, reference(corpus, db, rec, n), n, float(d["fs"]),
                           d["features"][:, FEATURES.index("invalid")], labelled_from(corpus, db, rec, n)))
        if progress:
            progress(f"fold {f + 1}/{k}: trained on {len(x):,} rows")
    primary = [scored[("ltafdb", "qrs")], scored.get(("mitdb", "atr+errors"), [])]
    tables = [score_grid(g) for g in primary]  # each sequence under each setting, once
    chosen, _ = choose_settings(primary, tables=tables)
    result = {"folds": k, "seed": seed, "chosen_on_all": chosen.to_dict(), "pooled": {}, "nested": {},
              "nested_settings": []}
    for key, seqs in scored.items():
        result["pooled"]["/".join(key)] = measures([s.score(chosen) for s in seqs])
    nested: dict[tuple[str, str], list] = {key: [] for key in scored}
    for f in range(k):
        s_f, _ = choose_settings(primary, keep=lambda name, f=f: fold_of[name] != f, tables=tables)
        result["nested_settings"].append(s_f.to_dict())
        for key, seqs in scored.items():
            nested[key] += [s.score(s_f) for s in seqs if fold_of[s.name] == f]
    for key, sc in nested.items():
        result["nested"]["/".join(key)] = measures(sc)
    return result


def anchor(corpus: Corpus, cache: Path | None, profile: ErrorProfile,
           sources: dict[str, tuple[str, ...]] | None = None) -> dict:
    """The textbook RR detector on evaluation beat sequences (default: LTAFDB .qrs and MIT-BIH .atr).

    Its intervals are cached in `cache` (they depend on the beats only), as it takes seconds a record.
    """
    from core.beats import read_header
    from training.rr_data import source_beats

    sources = sources or {"ltafdb": ("qrs",), "mitdb": ("atr", "atr+errors")}
    out = {}
    for db, recs in corpus.records.items():
        for source in sources.get(db, ()):
            scores = []
            for rec in recs:
                path = corpus.roots[db] / rec
                fs, n = read_header(path)
                beats = source_beats(path, source, profile)
                n = max(n, int(beats[-1]) + 1)
                key = cache / f"anchor_{db}_{rec}_{source.replace('+', '_')}.npy" if cache else None
                if key is not None and key.is_file():
                    det = [tuple(map(int, x)) for x in np.load(key)]
                else:
                    det = rr_af_intervals(beats, fs)
                    if key is not None:
                        np.save(key, np.array(det, dtype=np.int64).reshape(-1, 2))
                s = Scored(f"{db}/{rec}", np.empty(0), np.empty(0), reference(corpus, db, rec, n), n, fs,
                           labelled_from=labelled_from(corpus, db, rec, n))
                scores.append(s.score_intervals(det))
            out[f"{db}/{source}"] = measures(scores)
    return out
