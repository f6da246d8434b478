"""Starter templates for new projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from mm_common.auth import Caller, require
from mm_common.permissions import Action
from projects_fn.schemas import Template, TemplateList
from projects_fn.service import projects as service

router = APIRouter()


@router.get("/api/project-templates", response_model=TemplateList, summary="Starter templates for new projects")
def templates(caller: Annotated[Caller, require(Action.SELF)]) -> TemplateList:
    return TemplateList(
        items=[
            Template(id=t.id, name=t.name, description=t.description, default=t.default, file_count=len(t.files))
            for t in service.templates()
        ]
    )
