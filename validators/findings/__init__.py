"""radprm.validators.findings."""
