"""Request and response bodies of the design function."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field, field_validator

from mm_common.design_systems import MAX_PAGE_NAME, Change, Loaded, page_name_problem
from mm_common.models import ApiModel, RequestModel, UtcDatetime

MAX_DESCRIPTION = 2000
DOCUMENT_DESCRIPTION = (
    "The design-system document (JSON Schema: layers/common/mm_common/design/schema.json, schemaVersion 1): "
    "pattern, style, palette, light and dark colour tokens with their WCAG contrast report, typography, "
    "spacing/radius/shadow/motion tokens, effects, anti-patterns and the checklist."
)
HexColor = str
SeedKey = Literal["primary", "secondary", "accent", "background", "text"]


def _page_name(value: str | None) -> str | None:
    if value is None:
        return None
    problem = page_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value.strip()


class GenerateDesignSystemBody(RequestModel):
    description: str | None = Field(
        default=None,
        max_length=MAX_DESCRIPTION,
        description="What the product is (default: the project's description).",
    )
    page_name: str | None = Field(
        default=None,
        max_length=MAX_PAGE_NAME,
        description="Generate this page's override of the master instead of the master.",
    )

    _check_page = field_validator("page_name")(_page_name)


class DesignTypographyEdit(RequestModel):
    heading: str | None = Field(default=None, max_length=60, description="The heading font family.")
    body: str | None = Field(default=None, max_length=60, description="The body font family.")
    mono: str | None = Field(default=None, max_length=60, description="The mono font family; null: the system's.")


class EditDesignSystemBody(RequestModel):
    """Leave out what stays. Colours are #RRGGBB; each one that fails a contrast pair is moved in lightness until
    it passes, and the answer's ``adjustments`` say so."""

    palette: dict[SeedKey, HexColor] | None = Field(
        default=None, description="Seed colours for both modes (primary, secondary, accent, background, text)."
    )
    light: dict[str, HexColor | None] | None = Field(
        default=None, max_length=40, description="Colour tokens pinned in the light mode; null unpins one."
    )
    dark: dict[str, HexColor | None] | None = Field(
        default=None, max_length=40, description="Colour tokens pinned in the dark mode; null unpins one."
    )
    typography: DesignTypographyEdit | None = None
    anti_patterns: list[str] | None = Field(default=None, max_length=30, description="The whole list of anti-patterns.")

    def changes(self) -> dict[str, Any]:
        """The edit as ``mm_common.design.document.apply_edit`` takes it (only what was sent)."""
        sent: dict[str, Any] = self.model_dump(by_alias=True, exclude_unset=True)
        return {key: value for key, value in sent.items() if value is not None}


class ContrastAdjustment(ApiModel):
    """A colour moved for contrast: what was asked for (``from``) and what is used (``to``)."""

    mode: Literal["light", "dark"]
    token: str
    from_: str = Field(alias="from")
    to: str
    reason: str = Field(description="Why, with the contrast ratios.")


class DesignSystem(ApiModel):
    id: uuid.UUID = Field(description="The row shown: the page's override when a page is merged in, else the master.")
    project_id: uuid.UUID
    page_name: str | None = Field(description="The page whose override is merged over the master (null: the master).")
    revision: int
    generated_by_ai: bool
    updated_at: UtcDatetime
    document: dict[str, Any] = Field(description=DOCUMENT_DESCRIPTION)
    override: dict[str, Any] | None = Field(description="The page's own override of the master (null: the master).")
    pages: list[str] = Field(description="The pages that have an override.")


class DesignSystemEnvelope(ApiModel):
    design_system: DesignSystem


class DesignSystemChange(ApiModel):
    design_system: DesignSystem
    revision_id: uuid.UUID
    version_id: uuid.UUID = Field(description="The project version holding the rendered files.")
    version_number: int = Field(description="That version's number in the project.")
    adjustments: list[ContrastAdjustment] = Field(description="Colours an edit moved for contrast.")


class DesignSystemRevision(ApiModel):
    id: uuid.UUID
    revision: int
    page_name: str | None
    change: Literal["generated", "edited", "restored"]
    restored_from_id: uuid.UUID | None
    version_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_by_name: str | None = Field(description="Their name (else e-mail); null for a deleted user.")
    created_at: UtcDatetime
    document: dict[str, Any] = Field(description="This revision's document (a page's: its override).")


class DesignSystemRevisionPage(ApiModel):
    items: list[DesignSystemRevision]
    next_cursor: str | None


def design_system_model(loaded: Loaded) -> DesignSystem:
    shown = loaded.shown
    return DesignSystem(
        id=shown["id"],
        project_id=shown["project_id"],
        page_name=shown["page_name"],
        revision=shown["revision"],
        generated_by_ai=loaded.master["generated_by_ai"],
        updated_at=shown["updated_at"],
        document=loaded.document,
        override=loaded.page["document"] if loaded.page else None,
        pages=loaded.pages,
    )


def revision_model(row: dict[str, Any]) -> DesignSystemRevision:
    return DesignSystemRevision(
        id=row["id"],
        revision=row["revision"],
        page_name=row["page_name"],
        change=row["change"],
        restored_from_id=row["restored_from_id"],
        version_id=row["version_id"],
        created_by=row["created_by"],
        created_by_name=row["created_by_name"],
        created_at=row["created_at"],
        document=row["document"],
    )


def change_model(change: Change) -> DesignSystemChange:
    return DesignSystemChange(
        design_system=design_system_model(change.loaded),
        revision_id=change.revision["id"],
        version_id=change.version["id"],
        version_number=change.version["number"],
        adjustments=[ContrastAdjustment.model_validate(adjustment) for adjustment in change.adjustments],
    )
