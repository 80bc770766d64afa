"""radprm.readers."""
