"""Workspace scoping: every query a user makes goes through `for_user`.

Models that belong to a workspace use `WorkspaceScopedQuerySet` as their manager; the
`workspace_path` class attribute says how to reach the workspace (default `workspace`).
"""

from django.db import models


class WorkspaceScopedQuerySet(models.QuerySet):
    def _workspace_path(self) -> str:
        return getattr(self.model, "workspace_path", "workspace")

    def for_user(self, user):
        """Rows in workspaces `user` is a member of (nothing for anonymous users)."""
        if not user or not user.is_authenticated:
            return self.none()
        return self.filter(**{f"{self._workspace_path()}__memberships__user": user})

    def writable_by(self, user):
        """Rows in workspaces where `user` may edit (owner or editor)."""
        if not user or not user.is_authenticated:
            return self.none()
        path = self._workspace_path()
        # One filter() call: both conditions must hold on the same membership row.
        return self.filter(
            **{f"{path}__memberships__user": user, f"{path}__memberships__role__in": ["owner", "editor"]}
        )
