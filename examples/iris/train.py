"""Train an iris classifier and write it as model.joblib for cassiny/model-server.

Runs offline: the iris data set (150 flowers, 4 measurements, 3 species)
ships inside scikit-learn. Run it in the serving image, so the model is
pickled by the same scikit-learn that will load it:

    docker run --rm -u "$(id -u):$(id -g)" -v "$PWD/examples/iris:/src:ro" \
        -v /srv/cassiny/models/iris:/out cassiny/model-server:bookworm \
        python3 /src/train.py --out /out [--model forest|logreg] [--estimators N]

Everything random has a fixed seed, so the same arguments give the same
predictions. It prints the test accuracy and the file it wrote.
"""
import argparse
import os

import joblib
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 42


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=".", help="directory to write model.joblib into")
    p.add_argument("--model", choices=("logreg", "forest"), default="logreg",
                   help="logistic regression (default) or a random forest")
    p.add_argument("--estimators", type=int, default=50, help="trees of the forest")
    p.add_argument("--max-depth", type=int, default=3, help="depth of each tree")
    args = p.parse_args()

    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=SEED, stratify=y)
    if args.model == "forest":
        model = RandomForestClassifier(n_estimators=args.estimators, max_depth=args.max_depth,
                                       random_state=SEED, n_jobs=1)
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_train, y_train)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.joblib")
    tmp = path + ".tmp"
    joblib.dump(model, tmp)
    os.replace(tmp, path)  # a server never sees half a file
    print("%s: test accuracy %.3f, written to %s"
          % (args.model, model.score(x_test, y_test), path))


if __name__ == "__main__":
    main()
