"""Plans: the tiers, their limits and display prices; admins and co-admins change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from billing_fn import service
from billing_fn.schemas import PlanBody, PlanEnvelope, PlanList, plan_model
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.permissions import Action

Anyone = Annotated[Caller, require(Action.PUBLIC)]
PlanManager = Annotated[Caller, require(Action.PLANS_MANAGE)]
TierName = Annotated[str, Path(description="free, pro or enterprise.")]

router = APIRouter()


@router.get("/api/plans", response_model=PlanList, summary="The plans: limits and display prices")
def list_plans(caller: Anyone) -> PlanList:
    with db.transaction() as conn:
        rows = service.list_plans(conn)
    return PlanList(items=[plan_model(row) for row in rows])


@router.patch("/api/admin/plans/{tier}", response_model=PlanEnvelope, summary="Change a plan's limits or prices")
def update_plan(tier: TierName, body: PlanBody, caller: PlanManager) -> PlanEnvelope:
    with db.transaction() as conn:
        row = service.update_plan(conn, caller, tier, body)
    return PlanEnvelope(plan=plan_model(row))
