"""Idempotently create the demo login, its workspace and the example workflows.

With `DEMO_USER=false` it does nothing. The demo user is created once: later runs never reset
its password nor give it back superuser rights (see workflows.demo_login)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from workflows import services
from workflows.demo_login import USERNAME, ensure_demo_user
from workflows.models import Membership, Role, Workflow, Workspace
from workflows.triggers.activation import activate_workflow

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
ACTIVE_ON_CREATE = {"Beta sign-up"}  # shows live triggers (a hosted form, a webhook) out of the box


class Command(BaseCommand):
    help = "Create (or refresh) the demo user, the Demo workspace and the example workflows."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEMO_USER:
            self.stdout.write("Demo login off (DEMO_USER=false): no demo user or example workflows.")
            return
        user = ensure_demo_user()
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
        if user.check_password(settings.DEMO_PASSWORD):
            login = f"log in as '{USERNAME}' with password '{settings.DEMO_PASSWORD}'"
        else:
            login = f"log in as '{USERNAME}' with the password you set"
        self.stdout.write(f"Demo ready: {login} · API token {token.key} · {made} example workflow(s) added.")
