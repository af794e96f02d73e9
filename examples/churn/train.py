"""Train a churn-style classifier and write its metrics and model.

Runs offline: the data set (breast cancer diagnostics, 569 samples, 30
features) ships inside scikit-learn, so the example needs no download. It
stands in for a churn table: a binary label to predict from numeric columns.

Everything that could vary between runs is fixed -- the split and the model
have a random_state, the model is single-threaded, the metrics are rounded
and written with sorted keys and no timestamp -- so a reproduction of a run
writes byte-identical files and `cassinyctl reproduce RUN --wait` reports
"identical".

    python3 train.py --out /outputs [--estimators 100] [--max-depth 6]
"""
import argparse
import json
import os

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

SEED = 42


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("CASSINY_OUTPUTS", "outputs"),
                   help="directory for metrics.json and model.joblib")
    p.add_argument("--estimators", type=int, default=100)
    p.add_argument("--max-depth", type=int, default=6)
    p.add_argument("--test-size", type=float, default=0.25)
    a = p.parse_args()

    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=a.test_size, random_state=SEED,
        stratify=data.target)
    model = RandomForestClassifier(n_estimators=a.estimators, max_depth=a.max_depth,
                                   random_state=SEED, n_jobs=1)
    model.fit(x_train, y_train)
    pred = model.predict(x_test)
    proba = model.predict_proba(x_test)[:, 1]

    import sklearn
    metrics = {
        "model": "RandomForestClassifier",
        "params": {"n_estimators": a.estimators, "max_depth": a.max_depth,
                   "random_state": SEED, "test_size": a.test_size},
        "samples": {"train": int(len(y_train)), "test": int(len(y_test))},
        "accuracy": round(float(accuracy_score(y_test, pred)), 6),
        "f1": round(float(f1_score(y_test, pred)), 6),
        "roc_auc": round(float(roc_auc_score(y_test, proba)), 6),
        "sklearn": sklearn.__version__,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    joblib.dump(model, os.path.join(a.out, "model.joblib"))
    print(json.dumps({k: metrics[k] for k in ("accuracy", "f1", "roc_auc")}, sort_keys=True))


if __name__ == "__main__":
    main()
