#!/usr/bin/python3
"""Trains the demo model `wine-classifier` and exports it as ONNX for Sluice's runtime.

Run with Debian's interpreter (it sees python3-sklearn and python3-onnx):

    /usr/bin/python3 runtime/demo/train.py

Both versions are real classifiers on scikit-learn's wine data set (178 rows, 13
features, 3 classes), trained on the same fixed split so that they can be compared
on the same held-out rows:

  version 1: StandardScaler + multinomial LogisticRegression (L2, C=1)
  version 2: StandardScaler + LinearDiscriminantAnalysis (shared-covariance
             Gaussian model; a different estimator whose decision function is
             still linear, so it fits the same handful of ONNX nodes)

The graphs are written by hand with onnx.helper (skl2onnx is not packaged here):
  X[N,13] double -> Sub(mean) -> Div(scale) -> MatMul(W) -> Add(b) -> logits
  logits -> ArgMax(axis=1) -> label int64[N]
  logits -> Softmax(axis=1) -> probabilities double[N,3]
Inputs stay float64 end to end so ONNX Runtime reproduces sklearn's arithmetic.

Outputs (committed): wine-classifier/{1,2}/model.onnx, signature.json,
baseline.json (the training split's summary the inference table's drift metrics
compare against: per-feature quantile bin edges and counts, class distribution;
format in control/inference/baseline.ts), and heldout.json (held-out rows, true labels, sklearn's predictions per version).
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_NAME = "wine-classifier"
SPLIT_SEED = 20240611
TEST_SIZE = 0.3
# Opset 13 has every op used here with double support in ONNX Runtime's CPU provider.
OPSET = 13
IR_VERSION = 8


def build_pipelines():
    return {
        "1": Pipeline(
            [
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(C=1.0, max_iter=5000)),
            ]
        ),
        "2": Pipeline(
            [
                ("scale", StandardScaler()),
                ("clf", LinearDiscriminantAnalysis(solver="svd")),
            ]
        ),
    }


def linear_parts(pipe):
    """The scaler's (mean, scale) and the classifier's logits = z @ W + b."""
    scaler = pipe.named_steps["scale"]
    clf = pipe.named_steps["clf"]
    coef = np.asarray(clf.coef_, dtype=np.float64)  # [classes, features]
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    if coef.shape[0] != len(clf.classes_):
        raise SystemExit("expected one row of coefficients per class (multiclass model)")
    return scaler.mean_, scaler.scale_, coef.T.copy(), intercept


def to_onnx(pipe, n_features, version, description):
    mean, scale, weights, bias = linear_parts(pipe)
    n_classes = weights.shape[1]
    inits = [
        numpy_helper.from_array(mean.astype(np.float64), "scaler_mean"),
        numpy_helper.from_array(scale.astype(np.float64), "scaler_scale"),
        numpy_helper.from_array(weights.astype(np.float64), "weights"),
        numpy_helper.from_array(bias.astype(np.float64), "bias"),
    ]
    nodes = [
        helper.make_node("Sub", ["input", "scaler_mean"], ["centered"], name="center"),
        helper.make_node("Div", ["centered", "scaler_scale"], ["standardized"], name="scale"),
        helper.make_node("MatMul", ["standardized", "weights"], ["scores"], name="linear"),
        helper.make_node("Add", ["scores", "bias"], ["logits"], name="bias"),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0, name="argmax"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        f"{MODEL_NAME}_v{version}",
        [helper.make_tensor_value_info("input", TensorProto.DOUBLE, ["N", n_features])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, ["N", n_classes]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="sluice-demo-train",
        producer_version="1",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    model.model_version = int(version)
    model.doc_string = description
    onnx.checker.check_model(model)
    return model


def graph_labels(model, rows):
    """Re-evaluate the exported weights with numpy (onnx 1.12 has no reference evaluator),
    as a self-check that the graph's initializers are the fitted pipeline."""
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    logits = ((rows - w["scaler_mean"]) / w["scaler_scale"]) @ w["weights"] + w["bias"]
    return np.argmax(logits, axis=1).astype(int).tolist()


BASELINE_BINS = 10
# finer quantile bins for the Kolmogorov-Smirnov test (its D is only measured at bin edges)
KS_BINS = 100


def quantile_bins(values, bins):
    """Interior quantile edges (deduplicated) and the count of values in each bin."""
    qs = np.quantile(values, np.linspace(0, 1, bins + 1))
    interior = sorted(set(float(q) for q in qs[1:-1]))
    counts = [0] * (len(interior) + 1)
    for v in values:
        counts[int(np.searchsorted(interior, v, side="right"))] += 1
    return interior, counts


def numeric_baseline(values):
    """Quantile bins of one feature over the training rows. The interior edges cut the
    line into bins; a value v falls in bin i = number of interior edges <= v (the same
    rule as control/inference/baseline.ts), so counts here and in production agree."""
    values = np.asarray(values, dtype=np.float64)
    interior, counts = quantile_bins(values, BASELINE_BINS)
    ks_edges, ks_counts = quantile_bins(values, KS_BINS)
    return {
        "type": "numeric",
        "edges": interior,
        "counts": counts,
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "nulls": 0,
        "ks": {"edges": ks_edges, "counts": ks_counts},
    }


def training_baseline(features, x_train, y_train):
    classes, class_counts = np.unique(y_train, return_counts=True)
    return {
        "format": 1,
        "rows": int(len(y_train)),
        "features": {name: numeric_baseline(x_train[:, i]) for i, name in enumerate(features)},
        "prediction": {
            "type": "categorical",
            "counts": {str(int(c)): int(n) for c, n in zip(classes, class_counts)},
        },
    }


def main():
    data = load_wine()
    features = list(data.feature_names)
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y
    )

    descriptions = {
        "1": "StandardScaler + LogisticRegression(C=1, multinomial)",
        "2": "StandardScaler + LinearDiscriminantAnalysis(svd)",
    }
    signature = {
        "inputs": [{"name": name, "type": "double"} for name in features],
        "outputs": [{"name": "label", "type": "long"}],
    }
    heldout = {
        "model": MODEL_NAME,
        "columns": features,
        "rows": x_test.tolist(),
        "labels": y_test.tolist(),
        "classes": [int(c) for c in sorted(set(y.tolist()))],
        "class_names": list(data.target_names),
        "split": {"test_size": TEST_SIZE, "random_state": SPLIT_SEED, "stratify": True},
        "versions": {},
    }

    for version, pipe in build_pipelines().items():
        pipe.fit(x_train, y_train)
        predicted = pipe.predict(x_test).astype(int).tolist()
        probabilities = pipe.predict_proba(x_test)
        accuracy = float(np.mean(np.asarray(predicted) == y_test))

        model = to_onnx(pipe, len(features), version, descriptions[version])
        from_graph = graph_labels(model, x_test)
        if from_graph != predicted:
            raise SystemExit(f"version {version}: the ONNX graph disagrees with sklearn")

        out_dir = os.path.join(HERE, MODEL_NAME, version)
        os.makedirs(out_dir, exist_ok=True)
        onnx.save(model, os.path.join(out_dir, "model.onnx"))
        with open(os.path.join(out_dir, "signature.json"), "w") as f:
            json.dump(signature, f, indent=2)
            f.write("\n")
        # Both versions share the training split, so they share the baseline.
        with open(os.path.join(out_dir, "baseline.json"), "w") as f:
            json.dump(training_baseline(features, x_train, y_train), f, indent=1)
            f.write("\n")

        heldout["versions"][version] = {
            "description": descriptions[version],
            "accuracy": accuracy,
            "predictions": predicted,
            "probabilities": probabilities.tolist(),
        }
        print(f"{MODEL_NAME} v{version}: {descriptions[version]}: held-out accuracy {accuracy:.4f}")

    disagreements = sum(
        a != b for a, b in zip(heldout["versions"]["1"]["predictions"], heldout["versions"]["2"]["predictions"])
    )
    print(f"held-out rows: {len(y_test)}; versions disagree on {disagreements}")
    with open(os.path.join(HERE, "heldout.json"), "w") as f:
        json.dump(heldout, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
