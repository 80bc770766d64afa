"""PRM training and scoring on radprm exports (TRL's PRMTrainer, run in a separate torch venv).

`train_prm` trains a process reward model on `radprm export trl` output; `eval_prm` scores a checkpoint
against gold step labels (AUROC, accuracy, ProcessBench first-error F1). The heavy work runs in
`worker.py` under the train venv's Python (see training/build_env.sh and training/README.md).
"""

from radprm.training.api import (
    TrainSummary,
    eval_prm,
    step_labels,
    train_prm,
    train_python,
    trl_from_chains,
)

__all__ = ["TrainSummary", "eval_prm", "step_labels", "train_prm", "train_python", "trl_from_chains"]
