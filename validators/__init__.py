"""radprm.validators: findings extraction (and, from other modules, step validation)."""

from radprm.validators.findings import LABELSETS, FindingsExtractor, extract_findings, report_labels

__all__ = ["FindingsExtractor", "LABELSETS", "extract_findings", "report_labels"]
