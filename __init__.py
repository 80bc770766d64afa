"""radprm: mine process-reward training data from radiology reports."""

__version__ = "0.1.0"
