"""The freelancer's escalation settings (when each reminder goes, who signs, the wording)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events


def save_settings(session: Session, freelancer_id: int, changes: dict[str, Any]) -> Any:
    """Merge validated changes into the freelancer's escalation settings; flushes.

    Raises `InvalidConfig` (with field messages) when the whole no longer holds
    together, e.g. a formal reminder scheduled before the friendly one.
    """
    from billing.dunning.models import DunningSettings
    from billing.dunning.schedule import config_from

    row = session.scalar(
        select(DunningSettings).where(DunningSettings.freelancer_id == freelancer_id)
    )
    stored = {**(row.config if row else {}), **changes}
    config = config_from(stored)
    if row is None:
        session.add(DunningSettings(freelancer_id=freelancer_id, config=stored))
    else:
        row.config = stored
    session.flush()
    events.record(
        session,
        subject_type="dunning_settings",
        subject_id=freelancer_id,
        action="dunning_settings_saved",
        actor=events.freelancer_actor(freelancer_id),
        freelancer_id=freelancer_id,
        data={"fields": sorted(changes)},
    )
    return config
