"""Train a scikit-learn classifier of penguin species: the training step of pipelines/penguins-sklearn.

A mloe command step (docs/command-steps.md): the train and test splits arrive as CSV files named in
$MLOE_INPUTS_FILE (split@1 with format: csv, so pandas needs no Parquet reader), the run's params in
$MLOE_PARAMS_FILE; the fitted model (a pickled scikit-learn Pipeline: one-hot encoding of the categorical
columns, then a random forest) goes to $MLOE_OUTPUTS_DIR/model, the held-out scores to metrics.json and
outputs.json. Deterministic for a seed.
"""

import json
import os
import pathlib
import pickle
import sys

import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def main() -> int:
    inputs = json.loads(pathlib.Path(os.environ["MLOE_INPUTS_FILE"]).read_text())
    params = json.loads(pathlib.Path(os.environ["MLOE_PARAMS_FILE"]).read_text())
    out = pathlib.Path(os.environ["MLOE_OUTPUTS_DIR"])

    label = inputs["label"]
    categorical = list(inputs["categorical"])
    numeric = list(inputs["numeric"])
    train = pd.read_csv(inputs["train"]["path"])
    test = pd.read_csv(inputs["test"]["path"])
    missing = [c for c in [label, *categorical, *numeric] if c not in train.columns]
    if missing:
        print(f"train split lacks columns {missing}; it has {list(train.columns)}", file=sys.stderr)
        return 2

    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)],
                    remainder="passthrough",
                ),
            ),
            (
                "forest",
                RandomForestClassifier(
                    n_estimators=int(params["trees"]),
                    random_state=int(params["seed"]),
                    n_jobs=1,
                ),
            ),
        ]
    )
    features = categorical + numeric
    model.fit(train[features], train[label])
    predicted = model.predict(test[features])
    accuracy = float(accuracy_score(test[label], predicted))
    macro_f1 = float(f1_score(test[label], predicted, average="macro"))

    with open(out / "model", "wb") as handle:
        pickle.dump(model, handle)
    (out / "metrics.json").write_text(json.dumps({"accuracy": accuracy, "macro_f1": macro_f1}))
    (out / "outputs.json").write_text(
        json.dumps(
            {
                "accuracy": accuracy,
                "trainRows": int(len(train)),
                "testRows": int(len(test)),
                "sklearnVersion": sklearn.__version__,
            }
        )
    )
    print(f"trained on {len(train)} rows; held-out accuracy {accuracy:.4f}, macro F1 {macro_f1:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
