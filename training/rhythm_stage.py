"""`dacl-train run`'s last stage: the rhythm head and its episode settings, after the DACL encoder.

Data: the CinC validation split (records the encoder never fitted; the head sees them as new patients;
windows at a 2 s hop), every window of each annotated Holter record (MIT-BIH, every third window for
fitting) and one copy of each Holter record with recorded NSTDB noise (every third window; baseline
wander, muscle or electrode motion at an SNR drawn from −6 to 24 dB on the stress test's scale; below
−3 dB labelled noisy). Then:
1. leave-records-out folds over the Holter records: each fold's head is fitted without the fold's
   records (clean or noisy) and predicts them; the episode settings are chosen on these out-of-fold
   probabilities by the EC57 objective (`rhythm_head.choose_episodes`, with a nested estimate);
2. CinC metrics of the head by 2-fold cross-fitting on the validation split;
3. the shipped head is fitted on everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core import ec57
from core.preprocess import preprocess_record
from core.records import open_record
from core.rhythm import CONTEXT_S, GUARD_S, RHYTHM_FEATURES
from training import dataset, evaluate, features, mitbih, noise
from training.rhythm_head import (
    Holter,
    Sets,
    StreamWindows,
    choose_episodes,
    fit_head,
    head_probs,
    holter_folds,
    rounded,
    stream_windows,
    torch_dacl,
)

log = logging.getLogger(__name__)

FIT_STRIDE = 3  # every third Holter window (1 s hop) is fitted on: neighbours are nearly the same
CINC_STRIDE = 2  # CinC validation windows at a 2 s hop (the tracker still sees every window)
NOISY_SNR_DB = (-6.0, 24.0)
MODEL_FS, WINDOW, HOP = dataset.MODEL_FS, dataset.WINDOW, dataset.MONITOR_HOP


def default_folder(data: Path, name: str) -> Path | None:
    """`name` beside the training data folder (../shared/data/mitdb next to .../cinc2017), if it exists."""
    folder = Path(data).resolve().parent / name
    return folder if folder.is_dir() else None


Fit = Callable[[Sets], Callable[[StreamWindows], np.ndarray]]  # training sets → window probabilities


def holter_out_of_fold(fit: Fit, base_sets: Sets, holter_sets: Callable[[list[str]], Sets],
                       streams: dict[str, StreamWindows], folds: list[list[str]],
                       progress: Callable[[str, int, int], None] = lambda *a: None) -> dict[str, np.ndarray]:
    """Each Holter record's window probabilities from a fit without its fold's records."""
    oof = {}
    for k, fold in enumerate(folds):
        predict = fit([*base_sets, *holter_sets([n for n in streams if n not in fold])])
        for n in fold:
            oof[n] = predict(streams[n])
        progress("rhythm CV", k + 1, len(folds))
    return oof


def cinc_cross_fit(fit: Fit, cinc_streams: list[StreamWindows], base_sets: Sets, extra_sets: Sets,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """CinC window probabilities by two-fold cross-fitting over the records (`extra_sets` in each fit)."""
    order = rng.permutation(len(cinc_streams))
    halves = [order[::2], order[1::2]]
    probs: list = [None] * len(cinc_streams)
    for a, b in ((0, 1), (1, 0)):
        predict = fit([*(base_sets[i] for i in halves[a]), *extra_sets])
        for i in halves[b]:
            probs[i] = predict(cinc_streams[i])
    return probs


def record_metrics(cinc_streams: list[StreamWindows], probs: list[np.ndarray]) -> dict:
    """CinC record metrics from window probabilities, aggregated as `evaluate` does."""
    record = np.repeat(np.arange(len(probs)), [len(p) for p in probs])
    # floor 1e-6: the rhythm head's figures in the shipped manifest were computed with it
    agg = evaluate.aggregate_records(np.concatenate(probs), record, len(probs), floor=1e-6)
    return evaluate.metrics(np.array([s.labels[0] for s in cinc_streams]), agg)


def collect_streams(dacl, cinc: list[tuple[str, int, np.ndarray]], holter_dir: Path,
                    nstdb_dir: Path | None, seed: int, tilde_below_db: float,
                    progress: Callable[[str, int, int], None] = lambda *a: None,
                    holter_records: int = 0, holter_minutes: float = 0.0) -> tuple:
    """(CinC streams, Holter streams, noisy Holter streams, Holter references) through `dacl` (a DaclFn).

    `cinc` holds (name, label, preprocessed model-rate signal) of the validation records.
    """
    run = lambda name, sig, lab, stride=1: stream_windows(name, sig, lab, dacl, MODEL_FS, WINDOW, HOP,  # noqa: E731
                                                          stride)
    cinc_streams: list[StreamWindows] = []
    for i, (name, label, sig) in enumerate(cinc):
        if len(sig) >= WINDOW:
            cinc_streams.append(run(name, sig, lambda ends, label=label: np.full(len(ends), label),
                                    CINC_STRIDE))
        progress("rhythm CinC", i + 1, len(cinc))

    paths = mitbih.list_annotated(holter_dir)
    if holter_records > 0:  # the quick config: records with AF first, so every class is present
        paths = sorted(paths, key=lambda p: (_af_free(p), p.name))[:holter_records]
    if not paths:
        raise FileNotFoundError(f"{holter_dir}: no annotated records (.hea with .atr) for the rhythm head")
    recorded = noise.load_recorded_noise(nstdb_dir) if nstdb_dir is not None else {}
    rng = np.random.default_rng([seed, 11])
    streams: dict[str, StreamWindows] = {}
    noisy: dict[str, StreamWindows] = {}
    holters: dict[str, Holter] = {}
    for i, path in enumerate(paths):
        rec = open_record(path)
        if holter_minutes > 0:
            rec = _first_minutes(rec, holter_minutes)
        ann = rec.annotations
        holters[rec.name] = Holter(rec.name, rec.n_samples, rec.fs,
                                   ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, rec.n_samples))
        labels = lambda ends, ann=ann, rec=rec: mitbih.window_labels(ann, rec.n_samples, rec.fs, ends,  # noqa: E731
                                                                      WINDOW, MODEL_FS)
        streams[rec.name] = run(rec.name, preprocess_record(rec.signal, rec.fs, MODEL_FS)[0], labels)
        if recorded:
            kind = sorted(recorded)[int(rng.integers(len(recorded)))]
            snr = float(rng.uniform(*NOISY_SNR_DB))
            x = noise.add_recorded_noise(rec.signal, rec.fs, recorded[kind], snr, rng)
            s = run(f"{rec.name}+{kind}{snr:.0f}dB", preprocess_record(x, rec.fs, MODEL_FS)[0], labels,
                    FIT_STRIDE)
            if snr < tilde_below_db:
                s.labels[:] = mitbih.CLASSES.index("~")
            noisy[rec.name] = s
        progress("rhythm Holter", i + 1, len(paths))
    return cinc_streams, streams, noisy, holters


def train_rhythm_head(model, params: features.ScatteringParams, cinc: list[tuple[str, int, np.ndarray]],
                      holter_dir: Path, nstdb_dir: Path | None, seed: int, tilde_below_db: float,
                      progress: Callable[[str, int, int], None], holter_records: int = 0,
                      holter_minutes: float = 0.0) -> tuple:
    """(head, manifest rhythm spec, episodes block, report) for `model` (a DaclModel on the CPU).

    `cinc` holds (name, label, preprocessed model-rate signal) of the validation records.
    """
    model = model.cpu().eval()
    dacl = torch_dacl(model, features.make_scattering(params).eval())
    cinc_streams, streams, noisy, holters = collect_streams(dacl, cinc, holter_dir, nstdb_dir, seed,
                                                            tilde_below_db, progress, holter_records,
                                                            holter_minutes)
    every = np.s_[::FIT_STRIDE]
    base_sets = [(s, slice(None), 1.0) for s in cinc_streams]

    def holter_sets(names):
        return [(streams[n], every, 1.0) for n in names] + \
            [(noisy[n], slice(None), 1.0) for n in names if n in noisy]  # noisy copies: already strided

    def fit(sets: Sets) -> Callable[[StreamWindows], np.ndarray]:
        head = fit_head(model, sets)
        return lambda s: head_probs(head, s)

    folds = holter_folds(holters)
    oof = holter_out_of_fold(fit, base_sets, holter_sets, streams, folds, progress)
    settings, cv = choose_episodes(oof, streams, holters, folds, WINDOW, HOP, MODEL_FS)
    baseline = {n: np.exp(s.logp) for n, s in streams.items()}
    _, cv_dacl_only = choose_episodes(baseline, streams, holters, folds, WINDOW, HOP, MODEL_FS)

    # CinC: two-fold cross-fitting on the validation records, against the DACL head on the same windows
    fused = cinc_cross_fit(fit, cinc_streams, base_sets, holter_sets(list(streams)),
                           np.random.default_rng([seed, 12]))
    cinc_fused = record_metrics(cinc_streams, fused)
    cinc_dacl = record_metrics(cinc_streams, [np.exp(s.logp) for s in cinc_streams])

    head = fit_head(model, base_sets + holter_sets(list(streams)))
    progress("rhythm CV", len(folds), len(folds))
    spec = {"features": list(RHYTHM_FEATURES), "context_s": CONTEXT_S, "guard_s": GUARD_S,
            "peak_detector": "core.heart_rate.HeartRateEstimator on each window; beats up to guard_s before "
                             "its end (core.rhythm.RhythmTracker)",
            "inputs_note": "logistic regression on standardised [DACL log-probabilities, embedding, "
                           "RR features, DACL AF log-probability x RR features]",
            "training": {"cinc_records": len(cinc_streams), "holter_records": sorted(streams),
                         "noisy_holter_copies": sorted(s.name for s in noisy.values()),
                         "fit_stride": FIT_STRIDE, "holter_labels": mitbih.__doc__.strip().splitlines()[0]}}
    episodes = {**asdict(settings), "chosen_by": "leave-records-out CV on the Holter records, EC57 objective "
                "(training.rhythm_head.objective)", "cv": rounded(cv)}
    report = {"cinc_val_crossfit": {"rhythm_head": _short(cinc_fused),
                                    "dacl_head_same_windows": _short(cinc_dacl)},
              "holter_cv": rounded(cv), "holter_cv_dacl_head_only": rounded(cv_dacl_only)}
    return head, spec, episodes, report


def _af_free(path: Path) -> bool:
    import wfdb

    return not any(a.startswith("(AFIB") for a in wfdb.rdann(str(path), "atr").aux_note)


def _first_minutes(rec, minutes: float):
    """The record cut to its first minutes, annotations included."""
    import dataclasses

    n = min(rec.n_samples, round(minutes * 60 * rec.fs))
    ann = rec.annotations
    keep = ann.sample < n
    cut = dataclasses.replace(ann, sample=ann.sample[keep], symbol=tuple(np.array(ann.symbol)[keep]),
                              aux_note=tuple(np.array(ann.aux_note)[keep]))
    return dataclasses.replace(rec, signal=rec.signal[:n], annotations=cut)


def _short(m: dict) -> dict:
    return {k: m[k] for k in ("auroc_af", "auroc_macro", "f1_challenge", "accuracy", "n_records") if k in m}
