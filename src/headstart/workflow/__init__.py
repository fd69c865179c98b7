"""Fitting, predicting and evaluating heads on stores: the steps behind `headstart fit`,
`predict` and `eval`. Nothing here is a model; it moves stores, models and results around.
"""

import headstart.prompt_learning  # noqa: F401  (registers the prompt heads: coop, pre)
from headstart.workflow.evaluations import rank_templates
from headstart.workflow.extend import extend_model
from headstart.workflow.models import (
    UNKNOWN,
    Predictions,
    SavedModel,
    build_model,
    check_same_encoder,
    ensure_reject,
    fit_store,
    model_recipe,
    predict_rows,
    read_provenance,
    write_csv,
)
from headstart.workflow.run import run_protocol
from headstart.workflow.splits import (
    HOLDOUT,
    PROVENANCE,
    Rows,
    split_rows,
    store_rows,
    train_test,
    train_test_rows,
)
from headstart.workflow.texts import ClassTexts, class_text_embeddings, with_class_texts

__all__ = [
    "HOLDOUT",
    "PROVENANCE",
    "UNKNOWN",
    "ClassTexts",
    "Predictions",
    "Rows",
    "SavedModel",
    "build_model",
    "check_same_encoder",
    "class_text_embeddings",
    "ensure_reject",
    "extend_model",
    "fit_store",
    "model_recipe",
    "predict_rows",
    "rank_templates",
    "read_provenance",
    "run_protocol",
    "split_rows",
    "store_rows",
    "train_test",
    "train_test_rows",
    "with_class_texts",
    "write_csv",
]
