"""Role rules shared by every workspace-owned API object."""

from rest_framework import permissions

from .models import WRITE_ROLES
from .selectors import role_in


def workspace_id_of(obj):
    for path in ("workspace_id", "run.workspace_id", "credential.workspace_id", "connector.workspace_id"):
        value = obj
        for part in path.split("."):
            value = getattr(value, part, None)
        if value is not None:
            return value
    return None


class WorkspaceRolePermission(permissions.BasePermission):
    """Members read; only owners and editors write (viewers are read-only)."""

    message = "Your role in this workspace is read-only."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return role_in(user=request.user, workspace_id=workspace_id_of(obj)) in WRITE_ROLES
