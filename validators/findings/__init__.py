"""Findings extraction: a medspaCy pipeline built from versioned rule files, and report-level labels.

    from radprm.validators.findings import FindingsExtractor, extract_findings, LABELSETS, report_labels
    ex = FindingsExtractor()
    ex.extract_text("There is a small left pleural effusion.")
    report_labels(ex.extract_report(report), "chestxray14")
"""

from radprm.validators.findings.extract import FindingsExtractor, default_extractor, extract_findings
from radprm.validators.findings.labelsets import LABELSETS, labelset_columns, observation_status, report_labels
from radprm.validators.findings.lexicon import RuleSet, load_findings_rules, load_rules

__all__ = [
    "FindingsExtractor",
    "LABELSETS",
    "RuleSet",
    "default_extractor",
    "extract_findings",
    "labelset_columns",
    "load_findings_rules",
    "load_rules",
    "observation_status",
    "report_labels",
]
