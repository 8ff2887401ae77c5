"""A form's POST-only address opened with GET leads to the page the form is on, not to a 405.

A refused form is shown again at the address it posted to (an issued API token and a re-balance's result too), so
that address is what the address bar keeps: opened again (Enter in the bar, a bookmark, the history) it answered
"That cannot be done at this address". As /account/password does, it now redirects to the form's page, and writes
nothing. Each GET view carries the roles of the POST view it stands for, and makes the page's own check of the
project before it leads there: someone else is refused as before, at this address.
"""
from __future__ import annotations

from typing import Callable

from flask import Flask, Response, redirect, url_for

from annotator.web.admin.segmentation import article_or_404
from annotator.web.security import roles_required

# the POST-only endpoint -> the endpoint of the page its form is on
FORM_PAGES = {
    "admin.assignments_balance": "admin.assignments",
    "admin.assignments_rebalance": "admin.assignments",
    "admin.guidelines_preview": "admin.guidelines",
    "admin.member_remove": "admin.members",
    "admin.project_rename_label": "admin.project_edit",
    "admin.user_deactivate": "admin.user",
    "admin.user_activate": "admin.user",
    "admin.user_revoke": "admin.user",
    "admin.user_logout": "admin.user",
    "admin.user_role": "admin.user",
    "admin.user_password": "admin.user",
    "admin.user_token": "admin.user",
    "admin.user_token_revoke": "admin.user",
    "segmentation.split": "segmentation.article",
    "segmentation.merge": "segmentation.article",
    "segmentation.undo": "segmentation.article",
}

# a page whose project a reviewer may not be a member of: its own check, by the address's values (admin pages need
# none: an admin may open every project)
PAGE_CHECKS = {
    "segmentation.article": lambda values: article_or_404(values["article_id"]),
}


def _view(page: str, keep: frozenset[str], roles: tuple[str, ...]) -> Callable[..., Response]:
    check = PAGE_CHECKS.get(page)

    @roles_required(*roles)
    def lead_back(**values: object) -> Response:
        if check is not None:
            check(values)
        return redirect(url_for(page, **{k: v for k, v in values.items() if k in keep}))

    return lead_back


def register(app: Flask) -> None:
    """Once the blueprints are registered: a GET rule on each POST-only rule of FORM_PAGES, the same path."""
    for endpoint, page in FORM_PAGES.items():
        keep = frozenset(next(app.url_map.iter_rules(page)).arguments)
        roles = app.view_functions[endpoint].allowed_roles
        for rule in list(app.url_map.iter_rules(endpoint)):
            app.add_url_rule(rule.rule, f"{endpoint}_address", _view(page, keep, roles), methods=["GET"])
