"""radprm.exports."""
