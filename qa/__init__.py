"""radprm.qa."""
