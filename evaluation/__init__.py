"""radprm.evaluation: scoring predictions against gold labels and expected step labels."""
