"""radprm.shards."""
