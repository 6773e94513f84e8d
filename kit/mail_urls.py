"""The `?starttls=` option shared by the mail servers' URLs (SMTP_URL, IMAP_URL)."""

from __future__ import annotations

from urllib.parse import parse_qs

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def starttls_option(var: str, shown: str, scheme: str, tls_scheme: str, query: str,
                    error: type[ValueError]) -> bool | None:
    """None: upgrade to TLS when the server offers it; True: required; False: off. `error` (the
    caller's config error) names `var` and the URL as `shown` (password hidden); `tls_scheme`
    (smtps, imaps) is TLS from the first byte, so `starttls=1` beside it is refused."""
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"starttls"})
    if unknown:
        raise error(f"{var} {shown!r}: unknown option(s) {', '.join(unknown)} (only starttls=0|1)")
    start_tls: bool | None = None
    if "starttls" in options:
        value = options["starttls"][-1].strip().lower()
        if value not in TRUE + FALSE:
            raise error(f"{var} {shown!r}: starttls must be 1 or 0, not {value!r}")
        start_tls = value in TRUE
    if scheme == tls_scheme and start_tls:
        raise error(f"{var} {shown!r}: {tls_scheme}:// is already TLS, drop starttls=1")
    return start_tls
