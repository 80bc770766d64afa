"""Record types (pydantic) and their Arrow twins."""

from radprm.schemas.records import (
    Chain,
    ChainScores,
    Evidence,
    Finding,
    Item,
    PromptRef,
    QuarantineRecord,
    Question,
    Report,
    StepRecord,
    StepResult,
)

__all__ = [
    "Chain",
    "ChainScores",
    "Item",
    "PromptRef",
    "StepRecord",
    "Evidence",
    "Finding",
    "QuarantineRecord",
    "Question",
    "Report",
    "StepResult",
]
