"""Årsplan in Redaktionen: the federation's seasonal rules with the next day each makes a draft
(admins change them; an ansvarig may look), and the owners who get a mail that day."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.actors import Actor
from app.campaigns.models import Theme
from app.clock import now
from app.http import CommittingRoute, SessionDep
from app.rendering.themes import get_theme
from app.seasons import service
from app.seasons.models import Anchor
from app.seasons.schemas import SeasonalRuleCreate
from app.users.models import Role
from app.users.schemas import Staff
from app.users.sessions import AdminStaff, AnsvarigStaff, verify_csrf
from app.web.pages import render_staff_page

router = APIRouter(route_class=CommittingRoute, include_in_schema=False)

BASE = "/redaktion/installningar/arsplan"
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
FIELDS = ("name", "theme", "anchor", "anchor_month", "anchor_day", "days_before")
EMPTY = {
    **dict.fromkeys(FIELDS, ""),
    "theme": "sommar",
    "anchor": "midsommarafton",
    "days_before": "7",
    "weekday_only": "",
}
NOTICES = {"tillagd": "Regeln är tillagd.", "borttagen": "Regeln är borttagen."}


def _actor(staff: Staff) -> Actor:
    return Actor.person(user_id=staff.who.user.id, email=staff.who.user.email)


def _addresses(text: str) -> list[str]:
    return [a for a in re.split(r"[\s,;]+", text) if a]


async def _page(
    request: Request,
    staff: Staff,
    session: SessionDep,
    *,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    federation = staff.federation
    today = service.local_today(federation, now())
    rules = await service.list_rules(session, federation_id=federation.id)
    return render_staff_page(
        request,
        "arsplan.html",
        {
            "title": "Årsplan",
            "f": federation,
            "rules": [(rule, service.next_date(rule, today)) for rule in rules],
            "themes": {t.value: get_theme(t.value).label for t in Theme},
            "anchors": [a.value for a in Anchor],
            "zone": service.zone_name(federation),
            "can_change": staff.role == Role.ADMIN,
            "values": values or {**EMPTY, "notify_emails": staff.who.user.email},
            "errors": errors or [],
            "notice": NOTICES.get(request.query_params.get("klart", "")),
        },
        who=staff.who,
        status_code=status_code,
    )


@router.get(BASE)
async def year_plan(request: Request, staff: AnsvarigStaff, session: SessionDep) -> HTMLResponse:
    return await _page(request, staff, session)


@router.post(BASE, response_model=None)
async def add_rule(request: Request, staff: AdminStaff, session: SessionDep) -> Response:
    fields = await verify_csrf(request, staff.who)
    values = {f: fields.get(f, "").strip() for f in (*FIELDS, "notify_emails", "weekday_only")}
    data: dict[str, Any] = {f: values[f] or None for f in FIELDS}
    data["days_before"] = values["days_before"] or 0
    data["weekday_only"] = values["weekday_only"] == "ja"
    data["notify_emails"] = _addresses(values["notify_emails"])
    if data["anchor"] != Anchor.DATE:
        # The month and day fields only count for a fixed date; the form shows them always.
        data["anchor_month"] = data["anchor_day"] = None
    try:
        rule = SeasonalRuleCreate.model_validate(data)
    except ValidationError as exc:
        wrong = sorted({str(e["loc"][0]) if e.get("loc") else "datum" for e in exc.errors()})
        return await _page(request, staff, session, values=values, errors=wrong, status_code=422)
    await service.create_rule(session, federation=staff.federation, data=rule, actor=_actor(staff))
    return RedirectResponse(f"{BASE}?klart=tillagd", status_code=303)


@router.post(BASE + "/{rule_id}/ta-bort", response_model=None)
async def delete_rule(
    request: Request, rule_id: Id, staff: AdminStaff, session: SessionDep
) -> Response:
    await verify_csrf(request, staff.who)
    await service.delete_rule(
        session, federation_id=staff.federation.id, rule_id=rule_id, actor=_actor(staff)
    )
    return RedirectResponse(f"{BASE}?klart=borttagen", status_code=303)
