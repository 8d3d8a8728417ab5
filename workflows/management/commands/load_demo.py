"""Idempotently create the demo login, its workspace and the example workflows."""

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from workflows import services
from workflows.activation import activate_workflow
from workflows.models import Membership, Role, Workflow, Workspace

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
ACTIVE_ON_CREATE = {"Beta sign-up"}  # shows live triggers (a hosted form, a webhook) out of the box


class Command(BaseCommand):
    help = "Create (or refresh) the demo user, the Demo workspace and the example workflows."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        if created or not user.has_usable_password():
            user.set_password(settings.DEMO_PASSWORD)
        user.is_staff = user.is_superuser = True
        user.save()
        workspace = Workspace.objects.filter(name="Demo workspace", memberships__user=user).first()
        if workspace is None:
            workspace = Workspace.objects.create(name="Demo workspace")
        Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": Role.OWNER})
        made = 0
        for path in sorted(DEMO_DIR.glob("*.json")):
            document = json.loads(path.read_text())
            if not Workflow.objects.filter(workspace=workspace, name=document["name"]).exists():
                workflow = services.create_workflow(user=user, workspace=workspace, document=document)
                if document["name"] in ACTIVE_ON_CREATE:
                    activate_workflow(workflow=workflow)
                made += 1
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(
            "Demo ready: log in as 'demo' with password "
            f"'{settings.DEMO_PASSWORD}' · API token {token.key} · {made} example workflow(s) added."
        )
