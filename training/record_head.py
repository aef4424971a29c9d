"""The record head: a whole recording's class from its beat sequence, median beat and DACL windows.

Two stages, stacked so each is fitted only on what it may see (seeded, deterministic):

1. The beat branch, gradient-boosted trees (scikit-learn's HistGradientBoosting) over the record's RR and
   morphology features (core.record_features), trained on every training record: it never sees the DACL
   model, so the DACL encoder's training records are fair game. K-fold cross-fitting gives every record an
   out-of-fold beat log-probability.
2. The fusion, a multinomial logistic regression over the DACL window summary (mean log-probabilities and
   their spread across the record's windows, standardised) and the beat branch's out-of-fold
   log-probabilities, fitted on records the DACL encoder never trained on: `dacl-train run`'s calibration
   split (in the cross-validation, each fold's own).

`RecordHead.to_onnx` writes both as one graph (the trees via skl2onnx, the fusion as plain ONNX ops), the
bundle's record_head.onnx; `RecordHead.predict` is the reference it is checked against.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from core.record_features import MORPH_NAMES, NAMES, RR_NAMES
from training import dataset, evaluate

log = logging.getLogger(__name__)
N_BEAT = len(RR_NAMES) + len(MORPH_NAMES)
N_CLASSES = 4
FLOOR = 1e-7  # probabilities are floored before the log, in training and in the graph alike
ABLATIONS = {"dacl_windows": ("windows",), "beats": ("beats",), "fused": ("beats", "windows")}


@dataclass
class HeadConfig:
    max_iter: int = 300  # boosting rounds of the beat branch
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    l2_regularization: float = 1.0
    class_power: float = 0.0  # fusion class weights = frequency^-power (0: none; chosen on CV fold 0)
    fusion_c: float = 0.03  # inverse L2 strength: strong, the fusion sees ~1,000 records (CV fold 0)
    inner_folds: int = 5  # cross-fitting of the beat branch
    seed: int = 0


@dataclass
class RecordHead:
    """A fitted head: predict(x (R, len(NAMES))) → probabilities (R, 4)."""

    use: tuple[str, ...]
    mean: np.ndarray  # of the window summary over the fusion records
    std: np.ndarray
    coef: np.ndarray  # (4, n_inputs)
    intercept: np.ndarray  # (4,)
    trees: object | None = field(default=None, repr=False)  # HistGradientBoostingClassifier

    def beat_logp(self, x: np.ndarray) -> np.ndarray:
        return tree_logp(self.trees, x)

    def fusion_inputs(self, x: np.ndarray, beat_logp: np.ndarray | None) -> np.ndarray:
        parts = []
        if "windows" in self.use:
            parts.append((np.asarray(x[:, N_BEAT:], np.float64) - self.mean) / self.std)
        if "beats" in self.use:
            parts.append(beat_logp)
        return np.concatenate(parts, axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        logits = self.fusion_inputs(x, self.beat_logp(x) if "beats" in self.use else None) @ self.coef.T
        logits += self.intercept
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def to_onnx(self):
        """One ONNX graph, record_features (B, F) → record_probs (B, 4): trees, log, fusion, softmax."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        f = len(NAMES)
        nodes, inits = [], []

        def const(name: str, value) -> str:
            inits.append(numpy_helper.from_array(np.asarray(value), name))
            return name

        parts = []
        opsets = {"": 17}
        if "windows" in self.use:
            bounds = [const("w_start", np.array([N_BEAT])), const("w_end", np.array([f])),
                      const("axis1", np.array([1]))]
            nodes.append(helper.make_node("Slice", ["record_features", *bounds], ["window_part"]))
            mean = const("w_mean", self.mean.astype(np.float32))
            std = const("w_std", self.std.astype(np.float32))
            nodes.append(helper.make_node("Sub", ["window_part", mean], ["w_centred"]))
            nodes.append(helper.make_node("Div", ["w_centred", std], ["w_z"]))
            parts.append("w_z")
        if "beats" in self.use:
            from skl2onnx import to_onnx

            with warnings.catch_warnings():  # skl2onnx passes numpy bools where protobuf wants ints
                warnings.simplefilter("ignore", DeprecationWarning)
                trees = to_onnx(self.trees, np.zeros((1, N_BEAT), np.float32), options={"zipmap": False},
                                target_opset={"": 17, "ai.onnx.ml": 3})
            rename = {trees.graph.input[0].name: "beat_features",
                      **{o.name: f"trees_{o.name}" for o in trees.graph.output}}
            bounds = [const("b_start", np.array([0])), const("b_end", np.array([N_BEAT])),
                      const("axis1_b", np.array([1]))]
            nodes.append(helper.make_node("Slice", ["record_features", *bounds], ["beat_features"]))
            for node in trees.graph.node:
                node.input[:] = [rename.get(n, n) for n in node.input]
                node.output[:] = [rename.get(n, n) for n in node.output]
                nodes.append(node)
            inits.extend(trees.graph.initializer)
            opsets.update({o.domain: o.version for o in trees.opset_import})
            clip = ["trees_probabilities", const("floor", np.float32(FLOOR)), const("one", np.float32(1.0))]
            nodes.append(helper.make_node("Clip", clip, ["beat_p"]))
            nodes.append(helper.make_node("Log", ["beat_p"], ["beat_logp"]))
            parts.append("beat_logp")
        nodes.append(helper.make_node("Concat", parts, ["fusion_in"], axis=1))
        coef_t = const("coef_t", self.coef.T.astype(np.float32))
        bias = const("bias", self.intercept.astype(np.float32))
        nodes.append(helper.make_node("MatMul", ["fusion_in", coef_t], ["fusion_mm"]))
        nodes.append(helper.make_node("Add", ["fusion_mm", bias], ["logits"]))
        nodes.append(helper.make_node("Softmax", ["logits"], ["record_probs"], axis=1))
        graph = helper.make_graph(
            nodes, "record_head",
            [helper.make_tensor_value_info("record_features", TensorProto.FLOAT, ["batch", f])],
            [helper.make_tensor_value_info("record_probs", TensorProto.FLOAT, ["batch", N_CLASSES])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                                  producer_name="dacl-train record head")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def fit_trees(x: np.ndarray, y: np.ndarray, cfg: HeadConfig, seed: int):
    """The beat branch's trees on x's beat features, in one OpenMP thread.

    Beside torch's threads (or any busy process) more threads spin-wait: ten times slower on 2 cores.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        return HistGradientBoostingClassifier(
            max_iter=cfg.max_iter, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
            l2_regularization=cfg.l2_regularization, early_stopping=False, random_state=seed,
        ).fit(np.asarray(x[:, :N_BEAT], np.float32), y)


def tree_logp(trees, x: np.ndarray) -> np.ndarray:
    """Log max(p, FLOOR) (R, 4) of the trees on x's beat features (one thread, as fit_trees)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        p = trees.predict_proba(np.asarray(x[:, :N_BEAT], np.float32))
    return np.log(np.clip(p, FLOOR, 1.0))


def beat_oof(x: np.ndarray, y: np.ndarray, cfg: HeadConfig,
             progress: Callable[[int, int], None] = lambda d, n: None) -> np.ndarray:
    """Out-of-fold beat-branch log-probabilities (R, 4) of every record by K-fold cross-fitting."""
    out = np.zeros((len(y), N_CLASSES))
    for k, (tr, te) in enumerate(dataset.stratified_folds(y, cfg.inner_folds, cfg.seed)):
        out[te] = tree_logp(fit_trees(x[tr], y[tr], cfg, cfg.seed + 1 + k), x[te])
        progress(k + 1, cfg.inner_folds)
    return out


def fit_record_head(x: np.ndarray, y: np.ndarray, fusion_idx: np.ndarray, cfg: HeadConfig,
                    use: tuple[str, ...] = ABLATIONS["fused"], oof: np.ndarray | None = None,
                    progress: Callable[[int, int], None] = lambda d, n: None, trees=None) -> RecordHead:
    """The head for records x (R, len(NAMES)) with labels y; the fusion is fitted on x[fusion_idx] only.

    The window part of x need only be valid on fusion_idx (elsewhere the DACL model saw the record). `oof`:
    the beat branch's out-of-fold log-probabilities, and `trees` its fit on all of x, when already computed.
    """
    from sklearn.linear_model import LogisticRegression

    fusion_idx = np.asarray(fusion_idx)
    wx = np.asarray(x[fusion_idx, N_BEAT:], np.float64)
    head = RecordHead(use, wx.mean(0), wx.std(0) + 1e-6, np.zeros((N_CLASSES, 0)), np.zeros(N_CLASSES))
    if "beats" in use:
        if oof is None:
            oof = beat_oof(x, y, cfg, progress)
        head.trees = fit_trees(x, y, cfg, cfg.seed) if trees is None else trees
    inputs = head.fusion_inputs(x[fusion_idx], oof[fusion_idx] if "beats" in use else None)
    yf = y[fusion_idx]
    freq = np.bincount(yf, minlength=N_CLASSES) / len(yf)
    weights = {c: float(freq[c] ** -cfg.class_power) for c in range(N_CLASSES) if freq[c] > 0}
    lr = LogisticRegression(C=cfg.fusion_c, class_weight=weights, max_iter=2000).fit(inputs, yf)
    head.coef, head.intercept = lr.coef_.astype(np.float64), lr.intercept_.astype(np.float64)
    return head


def cross_validate(x_beats: np.ndarray, y: np.ndarray, oof_windows: dict[int, dict], cfg: HeadConfig,
                   progress: Callable[[int, int], None] = lambda d, n: None) -> dict:
    """The record head's estimate on the DACL CV folds, with the ablation, beside the geometric-mean score.

    oof_windows[k]: {"test": idx, "test_windows": (n_test, W), "cal": idx, "cal_windows": (n_cal, W)}: window
    summaries from fold k's DACL model of its held-out records and of its calibration records (`dacl-train
    cv --windows`). In fold k the beat branch trains on every record but the held-out ones, its fusion inputs
    come from cross-fitting inside them, and the fusion is fitted on fold k's calibration records, as
    `dacl-train run` does on its own split.
    """
    rows: dict[str, list[dict]] = {name: [] for name in ("dacl_mean_logp", *ABLATIONS)}
    for k in sorted(oof_windows):
        f = oof_windows[k]
        test, cal = np.asarray(f["test"]), np.asarray(f["cal"])
        train = np.setdiff1d(np.arange(len(y)), test)
        x = np.zeros((len(y), len(NAMES)), np.float32)
        x[:, :N_BEAT] = x_beats
        x[cal, N_BEAT:] = f["cal_windows"]
        x[test, N_BEAT:] = f["test_windows"]
        logp = f["test_windows"][:, :N_CLASSES]
        p = np.exp(logp - logp.max(1, keepdims=True))
        rows["dacl_mean_logp"].append(evaluate.metrics(y[test], p / p.sum(1, keepdims=True)))
        oof = beat_oof(x[train], y[train], cfg)
        trees = fit_trees(x[train], y[train], cfg, cfg.seed)  # one fit serves both ablations using beats
        fusion_idx = np.searchsorted(train, cal)
        for name, use in ABLATIONS.items():
            head = fit_record_head(x[train], y[train], fusion_idx, cfg, use, oof=oof, trees=trees)
            rows[name].append(evaluate.metrics(y[test], head.predict(x[test])))
        log.info("record head fold %d: %s", k, {n: round(r[-1]["f1_challenge"], 4) for n, r in rows.items()})
        progress(k + 1, len(oof_windows))
    return {name: {"summary": evaluate.mean_metrics(r), "folds": r} for name, r in rows.items()} | {
        "config": asdict(cfg)}
