"""radprm.miners."""
