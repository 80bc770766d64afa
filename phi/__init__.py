"""PHI guard (Presidio) and the privacy options of a mining job: see `radprm.phi.guard` and `radprm.phi.scan`."""

from radprm.phi.guard import ENGINES, MODES, PhiGuard, PhiHit, check_mode, load_phi_rules

__all__ = ["ENGINES", "MODES", "PhiGuard", "PhiHit", "check_mode", "load_phi_rules"]
