from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from reference.labs import LABS, Lab, get_lab
from server import boards
from server.deps import OptionalCallerDep, SessionDep
from server.i18n import translatable
from server.schemas import LabPublic, Leaderboard

router = APIRouter(prefix="/api/labs", tags=["labs"])


def lab_or_404(lab_id: str) -> Lab:
    try:
        return get_lab(lab_id)
    except KeyError:
        # The same sentence as reference.labs.get_lab's KeyError, in a form the catalogue translates.
        message = translatable(
            "unknown lab {lab_id!r}: expected one of {labs}", lab_id=lab_id, labs=", ".join(LABS)
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, message) from None


def public_lab(lab: Lab) -> LabPublic:
    return LabPublic(
        lab_id=lab.lab_id,
        title=lab.title,
        formula=lab.formula,
        dimension=lab.dimension,
        start_point=list(lab.public.start_point),
        budget=lab.budget,
        leaderboard=lab.leaderboard,
    )


@router.get("", summary="List the labs with their functions, start points and budgets")
def list_labs() -> list[LabPublic]:
    return [public_lab(lab) for lab in LABS.values()]


@router.get("/{lab_id}/leaderboard", summary="Rank each student's best or latest accepted submission")
def get_leaderboard(
    lab_id: str, session: SessionDep, caller: OptionalCallerDep, board: str = "public"
) -> Leaderboard:
    return boards.build(session, lab_or_404(lab_id), board, caller)
