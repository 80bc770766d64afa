"""radprm.review."""
