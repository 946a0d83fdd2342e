"""The city portal's "My dossiers": a citizen's drafts and dossiers in every unit they used.

The platform index names the units; each unit's rows (status, procedure, what is asked) are
read from that unit when the page is shown. Links lead to the unit's own portal, where the
citizen's session for that unit opens the draft or the dossier.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.calendar.workcal import VN_TZ
from app.core.db import get_platform, platform_db
from app.core.sites import CITY
from app.dossiers import citizen_index
from app.portal.citizen_access import citizen_required

blp = Blueprint("my_dossiers_city", __name__, subdomain=CITY)


def unit_base_url(slug: str) -> str:
    """``http://<slug>.<domain>[:port]`` as this request reached the city portal."""
    port = ":" + request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    return f"{request.scheme}://{slug}.{get_platform().settings.platform_domain}{port}"


@blp.get("/ho-so-cua-toi")
@citizen_required(CITY)
def my_dossiers(account):
    units = citizen_index.across_units(get_platform(), platform_db(), account.id)
    return render_template("portal/city_my_dossiers.html", units=units, unit_base_url=unit_base_url, tz=VN_TZ)
