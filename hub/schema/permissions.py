"""Role checks. Staff roles are cumulative (viewer < editor < approver < admin);
`customer` and `pusher` tokens hold none of them (hub.domain.workflow.Role)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from hub.domain.workflow import Role
from hub.schema.context import Info


class _RoleAtLeast(BasePermission):
    role: Role

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.actor.can(self.role)


class IsStaff(_RoleAtLeast):
    """Any staff role: internal records (sync history) are not for customer tokens."""

    role = Role.VIEWER
    message = "this is internal to the organisation running the hub"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it per class


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
