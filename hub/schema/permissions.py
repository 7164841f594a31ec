"""Role checks for mutations. Roles are cumulative (viewer < editor < approver < admin)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from hub.domain.workflow import Role
from hub.schema.context import Info


class _RoleAtLeast(BasePermission):
    role: Role

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.actor.can(self.role)


class IsEditor(_RoleAtLeast):
    role = Role.EDITOR
    message = "this needs the editor role; ask an admin for a token with it"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it per class


class IsApprover(_RoleAtLeast):
    role = Role.APPROVER
    message = "this needs the approver role; ask an admin for a token with it"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it per class


class IsAdmin(_RoleAtLeast):
    role = Role.ADMIN
    message = "this needs the admin role"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it per class
