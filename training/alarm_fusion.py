"""The AF alarm's model (core/alarm.py): the RR model fused with the DACL window, fitted on Holter records.

Every annotated Holter record (MIT-BIH) goes through the live path (`core.analyze.analyze_record`) with the
bundle's DACL engines and, for its RR input, the RR model of the cross-validation fold that never saw the
record (training/rr_cv.py): the window's class probabilities and the RR model's latest decision at each
window are then what a new patient's would be (the DACL encoder and head never saw these records either:
they learn from CinC 2017). Each record is analysed clean and with recorded NSTDB noise.

A class-balanced logistic regression (`INPUTS`) is fitted leave-records-out on the same folds; the episode
settings are chosen on its out-of-fold probabilities by the rhythm head's EC57 objective, with a nested
estimate. The same is done for the RR model alone and the window alone (the ablation in docs/alarms.md);
the RR model's fit also travels in the manifest as "paced", the alarm of beds marked paced (core/alarm.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core import ec57
from core.alarm import alarm_inputs
from training.rhythm_head import Holter, StreamWindows, choose_episodes, fit_logistic, rounded

log = logging.getLogger(__name__)

RR_INPUTS = ("rr_log_p_sinus", "rr_log_p_af", "rr_log_p_other", "rr_ready")
DACL_INPUTS = ("dacl_log_p_N", "dacl_log_p_A", "dacl_log_p_O", "dacl_log_p_~")
INPUTS = RR_INPUTS + DACL_INPUTS
ABLATIONS = {"rr_model": RR_INPUTS, "dacl_window": DACL_INPUTS, "fused": INPUTS}
FIT_STRIDE = 3  # every third window (1 s hop): neighbours are nearly the same
NOISY_SNR_DB = (-6.0, 24.0)


@dataclass
class AlarmWindows:
    """One analysed record (clean or with noise): what the alarm sees at each window, and the truth."""

    name: str  # e.g. "201" or "201+ma3dB"
    record: str  # the record it came from (the unit of the folds)
    ends: np.ndarray  # (n,) model-rate window ends
    probs: np.ndarray  # (n, 4) DACL window probabilities
    rr_probs: np.ndarray  # (n, 3) the out-of-fold RR model's latest decision, NaN before its first
    labels: np.ndarray  # (n,) 1 where the window's centre lies in reference AF
    holter: Holter

    def inputs(self, names: Sequence[str]) -> np.ndarray:
        feats = alarm_inputs(self.probs, self.rr_probs)
        return np.stack([feats[n] for n in names], axis=1)


class TorchRr:
    """A training RrRhythmNet where the live path wants the bundle's RR model (beat_analysis.RrRhythm)."""

    def __init__(self, model, settings) -> None:
        self.model, self.settings = model, settings

    def probs(self, features: np.ndarray) -> np.ndarray:
        from training.rr_model import predict

        return predict(self.model, features)


def window_labels(ends: np.ndarray, reference: list[tuple[int, int]], window: int, model_fs: float,
                  fs: float) -> np.ndarray:
    """1 for windows whose centre (in record samples) lies in a reference AF interval, else 0."""
    centre = (np.asarray(ends, np.float64) - window / 2) * fs / model_fs
    y = np.zeros(len(centre), np.int64)
    for a, b in reference:
        y[(centre >= a) & (centre < b)] = 1
    return y


def analyse(model, record, rr, name: str) -> AlarmWindows:
    """`record` (core.records.EcgRecord with annotations) through the live path with RR model `rr`."""
    from core.analyze import analysis_config, analyze_record

    saved = model.rr_rhythm, model.alarm
    model.rr_rhythm, model.alarm = rr, None
    try:
        a = analyze_record(record, model, config=analysis_config(model))
    finally:
        model.rr_rhythm, model.alarm = saved
    ann = record.annotations
    ref = ec57.af_reference(ann.sample, ann.symbol, ann.aux_note, record.n_samples)
    holter = Holter(name, record.n_samples, record.fs, ref)
    return AlarmWindows(name, record.name, a.end_index, a.probs, a.rr_probs,
                        window_labels(a.end_index, ref, a.window, a.model_fs, record.fs), holter)


def collect(model, records: Sequence, rr_of: Callable[[str], object], noise: dict | None, seed: int,
            progress: Callable[[str], None] = lambda s: None) -> list[AlarmWindows]:
    """Each record (EcgRecord) clean and, with `noise` (training.noise.load_recorded_noise), noisy."""
    out = []
    for rec in records:
        rr = rr_of(rec.name)
        out.append(analyse(model, rec, rr, rec.name))
        if noise:
            noisy, name = noisy_copy(rec, noise, seed)
            out.append(analyse(model, noisy, rr, name))
        progress(f"alarm windows: {rec.name} ({len(out)} analyses)")
    return out


def noisy_copy(rec, noise: dict, seed: int):
    """(the record with one kind of recorded noise at a drawn SNR, its analysis name), seeded by the name."""
    from training.noise import add_recorded_noise

    rng = np.random.default_rng([seed, int.from_bytes(rec.name.encode(), "little") % 2**31])
    kind = sorted(noise)[int(rng.integers(len(noise)))]
    snr = float(rng.uniform(*NOISY_SNR_DB))
    signal = add_recorded_noise(rec.signal, rec.fs, noise[kind], snr, rng)
    return dataclasses.replace(rec, signal=signal), f"{rec.name}+{kind}{snr:.0f}dB"


def fit(sets: Sequence[AlarmWindows], names: Sequence[str], c: float = 1.0) -> dict:
    """The fusion's manifest fields (inputs, mean, std, coef, bias) fitted on `sets`."""
    x = np.vstack([s.inputs(names)[::FIT_STRIDE] for s in sets])
    y = np.concatenate([s.labels[::FIT_STRIDE] for s in sets])
    if len(set(y.tolist())) < 2:
        raise ValueError("the alarm's training windows hold one class only (need AF and non-AF windows)")
    mean, std, clf = fit_logistic(x, y, None, c)
    return {"inputs": list(names), "mean": mean.tolist(), "std": std.tolist(),
            "coef": clf.coef_[0].tolist(), "bias": float(clf.intercept_[0])}


def p_af(block: dict, s: AlarmWindows) -> np.ndarray:
    """The fitted fusion's p(AF) on one analysis, as core.alarm computes it live."""
    from core.alarm import AlarmFusion

    return AlarmFusion(block).p_af(s.probs, s.rr_probs)


def as_probs(p: np.ndarray) -> np.ndarray:
    """(n,) p(AF) → (n, 4) rows the episode grid reads (column 1 is AF)."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.stack([1 - p, p, np.zeros_like(p), np.zeros_like(p)], axis=1)


def out_of_fold(sets: Sequence[AlarmWindows], folds: Sequence[Sequence[str]], names: Sequence[str] = INPUTS,
                train: Callable[[AlarmWindows], bool] = lambda s: True) -> tuple[dict, dict, dict]:
    """(p(AF) of each analysis from the fit that never saw its record, streams, holters) for EC57 scoring.

    train: which analyses the fits learn from (every analysis is scored).
    """
    oof: dict[str, np.ndarray] = {}
    for fold in folds:
        block = fit([s for s in sets if s.record not in fold and train(s)], names)
        oof.update({s.name: as_probs(p_af(block, s)) for s in sets if s.record in fold})
    streams = {s.name: StreamWindows(s.name, s.ends, None, None, None, s.labels) for s in sets}
    return oof, streams, {s.name: s.holter for s in sets}


def cross_validate(sets: Sequence[AlarmWindows], folds: Sequence[Sequence[str]], window: int, hop: int,
                   model_fs: float, names: Sequence[str] = INPUTS) -> tuple:
    """(settings chosen on all out-of-fold probabilities, CV report) for the fusion over `names`.

    folds: record names per fold; a record's clean and noisy analyses are held out together. The
    episode settings are chosen on clean and noisy analyses together (each counts as a record of the
    EC57 objective, so a setting that only holds on clean signal loses), smoothed over neighbouring
    settings; the nested estimate is reported for the clean and the noisy analyses apart.
    """
    from core.events import EpisodeSettings
    from training.rhythm_head import record_scores, score

    oof, streams, holters = out_of_fold(sets, folds, names)
    fl = [[s.name for s in sets if s.record in f] for f in folds]
    settings, cv = choose_episodes(oof, streams, holters, fl, window, hop, model_fs, smoothed=True)
    for part, keep in (("clean", lambda s: s.name == s.record), ("noisy", lambda s: s.name != s.record)):
        members = {s.name for s in sets if keep(s)}
        if not members:
            continue
        nested = []
        for f, chosen in zip(fl, cv["nested_choices"], strict=True):
            nested += record_scores(oof, streams, holters, [n for n in f if n in members],
                                    EpisodeSettings(**chosen), window, hop, model_fs)
        cv[f"nested_{part}"] = ec57.gross(nested)
        cv[f"chosen_on_all_{part}"] = score(oof, streams, holters, sorted(members), settings, window, hop,
                                            model_fs)
    cv["inputs"] = list(names)
    return settings, cv


def rhythm_head_settings(manifest: dict) -> dict | None:
    """The rhythm head's own episode settings, before the alarm's replace them in `episodes`.

    A first run of this stage finds them in `episodes`; a re-run finds `episodes` already the alarm's and
    keeps what the first run saved (copying `episodes` again would store the alarm's settings twice).
    """
    kept = manifest.get("alarm", {}).get("rhythm_head_episodes")
    if kept is not None:
        return kept
    episodes = manifest.get("episodes")
    if episodes is None or "on the alarm model" in episodes.get("chosen_by", ""):
        return None
    return {k: v for k, v in episodes.items() if k != "cv"}


def save_windows(sets: Sequence[AlarmWindows], folder) -> None:
    """One npz per analysis (what the alarm saw and the truth), for study outside the stage."""
    from pathlib import Path

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for s in sets:
        np.savez(out / f"{s.name}.npz", record=s.record, ends=s.ends, probs=s.probs, rr_probs=s.rr_probs,
                 labels=s.labels, reference=np.asarray(s.holter.reference, np.int64).reshape(-1, 2),
                 n_samples=s.holter.n_samples, fs=s.holter.fs)


def load_windows(folder) -> list[AlarmWindows]:
    """The analyses `save_windows` wrote to `folder`, in the order of their file names."""
    from pathlib import Path

    out = []
    for f in sorted(Path(folder).glob("*.npz")):
        with np.load(f) as z:
            ref = [(int(a), int(b)) for a, b in z["reference"]]
            holter = Holter(f.stem, int(z["n_samples"]), float(z["fs"]), ref)
            out.append(AlarmWindows(f.stem, str(z["record"]), z["ends"], z["probs"], z["rr_probs"],
                                    z["labels"], holter))
    return out


def train_alarm_stage(bundle, mitdb, nstdb, models: dict, folds: Sequence[Sequence[str]], rr_settings,
                      seed: int = 0, progress: Callable[[str], None] = lambda s: None,
                      windows_dir=None) -> dict:
    """Fit the alarm on the MIT-BIH records in `mitdb` and write it into `bundle`'s manifest; return it.

    models: {record: the RR fold model that never saw it}; folds: MIT-BIH record names per RR fold.
    The bundle's DACL engines run on ONNX Runtime CPU (the numbers do not depend on the backend).
    """
    import json
    import time
    from dataclasses import asdict
    from pathlib import Path

    from core.records import open_record
    from core.scheduler_model import load_model
    from engines.bundle_spec import validate_manifest
    from training.noise import load_recorded_noise

    t0 = time.time()
    root = Path(bundle)
    # one batch on every core, as when the shipped fit was made: single-threaded sessions (the monitor's
    # default) give window probabilities ~1e-6 apart, and a retrain should reproduce the bundle bit for bit
    model = load_model(root, "onnxruntime", batch_per_core=False)
    names = [r for f in folds for r in f]
    records = [open_record(Path(mitdb) / r) for r in names]
    noise = load_recorded_noise(nstdb, mitdb) if nstdb is not None and Path(nstdb).is_dir() else {}
    sets = collect(model, records, lambda r: TorchRr(models[r], rr_settings), noise, seed, progress)
    model.close()
    if windows_dir is not None:
        save_windows(sets, windows_dir)
    w, hop, fs = model.window, model.hop, model.fs
    cv, chosen = {}, None
    for label, inputs in ABLATIONS.items():
        progress(f"alarm: cross-validating {label}")
        settings, report = cross_validate(sets, folds, w, hop, fs, inputs)
        report.pop("features", None)
        cv[label] = report
        if label == "fused":
            chosen = settings
    block = {**fit(sets, INPUTS), "paced": fit(sets, RR_INPUTS), "episodes": asdict(chosen),
             "cv": rounded(cv),
             "chosen_by": "leave-records-out CV on the MIT-BIH records (RR model out of fold), EC57 "
                          "objective (training.rhythm_head.objective)",
             "training": {"records": names, "noisy_copies": [s.name for s in sets if s.name != s.record],
                          "folds": [list(f) for f in folds], "fit_stride": FIT_STRIDE, "seed": seed,
                          "seconds": round(time.time() - t0, 1)}}
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    head = rhythm_head_settings(manifest)
    if head is not None:
        block["rhythm_head_episodes"] = head
    manifest["alarm"] = block
    manifest["episodes"] = {**asdict(chosen), "chosen_by": block["chosen_by"] + " on the alarm model"}
    validate_manifest(manifest, root)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return block
