"""Requests for a host the app is not served under (TRUSTED_HOSTS, from ANNOTATOR_TRUSTED_HOSTS), refused first.

Links the app hands out are built from the Host header (the REST API's absolute `next`, a redirect's
target), so with a spoofed one the app would point clients at another host. Flask checks the header against
TRUSTED_HOSTS when it routes the request and, on a foreign one, leaves the request without a URL adapter and
with a `request.host` that raises again: the error page, which builds links and reads `request.host_url`,
then failed (a 500). The answer here touches neither. Flask's check also cuts a host at its first colon, which in
an IPv6 address is inside the brackets: a listed [::1] let in every address written from '::' ([::ffff:203.0.113.9]
among them), so an address in brackets is checked again here, whole.
"""
from __future__ import annotations

import ipaddress

from flask import Response, current_app, request
from markupsafe import escape
from werkzeug.exceptions import SecurityError

from annotator.stats import textcheck
from annotator.web.errors import json_error, wants_json


def _refusal() -> Response:
    sent = request.headers.get("Host", "")
    message = (f"This server is not served under the host name {textcheck.shown(sent)}: use its own address "
               "(an admin sets the names it answers to in ANNOTATOR_TRUSTED_HOSTS).")
    if wants_json():
        return json_error(400, message)
    page = f"<!doctype html><title>400 Unknown host</title><h1>Unknown host</h1><p>{escape(message)}</p>"
    return current_app.response_class(page, status=400, mimetype="text/html")


def refuse_untrusted_host() -> Response | None:
    """The first check of every request (a before-request hook): a 400 saying so for a host not in TRUSTED_HOSTS."""
    if isinstance(request.routing_exception, SecurityError):
        return _refusal()
    trusted = current_app.config.get("TRUSTED_HOSTS")
    if trusted and request.host.startswith("["):
        address = _address(request.host)
        if address is None or address not in {_address(name) for name in trusted}:
            return _refusal()
    return None


def _address(host: str) -> ipaddress.IPv6Address | None:
    """The IPv6 address of a host written `[address]` or `[address]:port`; None for anything else."""
    address, bracket, rest = host.removeprefix("[").partition("]")
    if not (host.startswith("[") and bracket and (not rest or rest[:1] == ":" and rest[1:].isdigit())):
        return None
    try:
        return ipaddress.IPv6Address(address)
    except ValueError:
        return None

