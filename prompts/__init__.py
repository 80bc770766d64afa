"""radprm.prompts."""
