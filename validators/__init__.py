"""radprm.validators."""
