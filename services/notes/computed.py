"""What a note's numbers mean together: before/after the correction, and since last time.

Pure functions of the content; nothing here is stored (the stored values are the ones the
chiropractor entered).
"""

from __future__ import annotations

from pydantic import BaseModel

from services.notes.content import Film, NoteContent, Phase, XrayAnalysis


class Change(BaseModel):
    before: float
    after: float
    change: float  # after - before


class XrayChange(BaseModel):
    film: Film
    measure: str  # atlas_laterality, atlas_rotation, head_tilt, or an "other" name
    before: float
    after: float
    change: float


class Changes(BaseModel):
    leg_check_in: Change | None = None  # pre → post the correction, inches
    xrays: list[XrayChange] = []
    # This visit against the patient's previous signed note.
    pain_nrs: Change | None = None
    headache_days: Change | None = None


def _change(before: float | None, after: float | None) -> Change | None:
    if before is None or after is None:
        return None
    return Change(before=before, after=after, change=round(after - before, 4))


def _measures(xray: XrayAnalysis) -> dict[str, float]:
    found = {name: value for name, value in xray.other.items()}
    for name in ("atlas_laterality", "atlas_rotation", "head_tilt"):
        angle = getattr(xray, name)
        if angle is not None:
            found[name] = angle.degrees
    return found


def _xray_changes(xrays: list[XrayAnalysis]) -> list[XrayChange]:
    changes = []
    for film in Film:
        pre = next((x for x in xrays if x.film == film and x.phase == Phase.pre), None)
        post = next((x for x in xrays if x.film == film and x.phase == Phase.post), None)
        if pre is None or post is None:
            continue
        before, after = _measures(pre), _measures(post)
        for name in sorted(before.keys() & after.keys()):
            changes.append(
                XrayChange(
                    film=film,
                    measure=name,
                    before=before[name],
                    after=after[name],
                    change=round(after[name] - before[name], 4),
                )
            )
    return changes


def _number(value: int | None) -> float | None:
    return None if value is None else float(value)


def changes(content: NoteContent, previous: NoteContent | None) -> Changes:
    pre, post = content.objective.leg_check_pre, content.objective.leg_check_post
    now, earlier = content.subjective, previous.subjective if previous else None
    return Changes(
        leg_check_in=_change(
            pre.difference_in if pre else None, post.difference_in if post else None
        ),
        xrays=_xray_changes(content.objective.xrays),
        pain_nrs=_change(_number(earlier.pain_nrs if earlier else None), _number(now.pain_nrs)),
        headache_days=_change(
            _number(earlier.headache_days if earlier else None), _number(now.headache_days)
        ),
    )
