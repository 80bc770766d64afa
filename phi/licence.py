"""Source licences: what `--licence` declares, what radprm knows by default, what the dataset card says."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from radprm.errors import InputError

__all__ = ["IU_LICENCE", "check_local_server", "default_licence", "is_local_url", "licence_card_text"]

IU_LICENCE = "CC-BY-NC-ND-4.0"

# SPDX-style id -> (HF card `license:` value, card paragraph). Other values are printed as given.
_KNOWN = {
    IU_LICENCE: ("cc-by-nc-nd-4.0", """\
The reports come from the Indiana University chest X-ray collection (Open-i), distributed under
**CC BY-NC-ND 4.0**: non-commercial use only, with attribution, no derivatives distributed outside the
licence terms. Check the licence before sharing this dataset. Please cite:

> Demner-Fushman D, Kohli MD, Rosenman MB, et al. Preparing a collection of radiology examinations for
> distribution and retrieval. *J Am Med Inform Assoc.* 2016;23(2):304-310.
"""),
    "PhysioNet-Credentialed-1.5.0": ("other", """\
The reports come from a credentialed PhysioNet source (e.g. MIMIC-CXR) under the **PhysioNet
Credentialed Health Data License 1.5.0**: only credentialed users who signed the data use agreement
may receive them, and the text must not be sent to third-party services. Do not share this dataset
outside those terms.
"""),
}


def default_licence(reports: str | Path | None, reader_format: str | None = None) -> str | None:
    """The licence radprm knows for an input: IU's CC BY-NC-ND 4.0 for the IU reports CSV, else None."""
    if reports is None:
        return None
    fmt = reader_format
    if fmt is None:
        try:
            from radprm.readers.formats import detect_format

            fmt = detect_format(reports)
        except Exception:  # a missing or odd input fails later, with the reader's own error
            return None
    return IU_LICENCE if fmt == "iu" else None


def licence_card_text(licence: str | None, credentialed: bool = False) -> tuple[str, str]:
    """(`license:` value for the card's YAML header, the card's "Source data and licence" paragraph)."""
    if licence in _KNOWN:
        tag, text = _KNOWN[licence]
    elif licence:
        tag, text = "other", f"The source reports are used under **{licence}** (declared with `--licence`).\n"
    else:
        tag, text = "unknown", ("The source's licence was not declared (`radprm mine --licence`). Check the "
                                "terms of the reports before sharing this dataset.\n")
    if credentialed:
        text += ("\nThe source is marked **credentialed** (`--credentialed`): it was mined against a local model "
                 "server unless `--allow-remote` was given (see the run meta below).\n")
    return tag, "## Source data and licence\n\n" + text


def is_local_url(url: str) -> bool:
    """True when `url` points at this machine (localhost, 127.0.0.0/8, ::1, a unix socket)."""
    import ipaddress

    parsed = urlparse(url)
    if parsed.scheme in ("unix", "http+unix"):
        return True
    host = (parsed.hostname or "").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_local_server(base_url: str, *, credentialed: bool, allow_remote: bool) -> None:
    """Refuse to send a credentialed source's text to a server that is not on this machine.

    Raises:
        InputError: `credentialed`, a non-local `base_url` and no `allow_remote`.
    """
    if credentialed and not allow_remote and not is_local_url(base_url):
        raise InputError(
            f"credentialed source: refusing to send report text to non-local server {urlparse(base_url).netloc}",
            field="base_url",
            hint="serve the model on this machine (make serve), or pass --allow-remote if the data-use terms allow it",
        )
