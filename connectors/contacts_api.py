"""/api/v1/contacts/: workspace contacts CRUD, with the connectors API's conventions.

Scoped to the caller's workspaces (others' contacts are 404); members read, owners and
editors write. PUT replaces every field (absent ones become empty); PATCH changes the given
fields and merges `data` key by key (null removes a key). Saving a contact starts the
workspace's matching `trigger.contact` workflows (connectors.contact_events).
List filters: `?workspace=`, `?email=` (exact, any case), `?tag=`, `?q=` (name/email/phone).
"""

from django.db import connection
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.openapi import ID_PARAM
from workflows.api import target_workspace

from . import contacts
from .api import _ScopedViewSet, _valid
from .api_schemas import CONTACT_FILTERS, ContactOut, scoped_crud
from .models import Contact


class ContactInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    data = serializers.DictField(child=serializers.JSONField(allow_null=True), required=False)
    workspace = serializers.UUIDField(required=False)


@scoped_crud(ContactOut, ContactInput, list_filters=CONTACT_FILTERS)
class ContactViewSet(_ScopedViewSet):
    """/contacts/: CRUD."""

    represent = staticmethod(contacts.contact_representation)

    def scoped(self):
        qs = Contact.objects.for_user(self.request.user)
        if self.action == "list":
            params = self.request.query_params
            if email := params.get("email"):
                qs = qs.filter(email__iexact=email)
            if q := params.get("q"):
                qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q))
            if tag := params.get("tag"):
                if connection.features.supports_json_field_contains:
                    qs = qs.filter(tags__contains=[tag])
                else:  # SQLite has no JSON containment: match the tag lists in Python
                    qs = qs.filter(
                        pk__in=[
                            pk
                            for pk, tags in qs.values_list("pk", "tags")
                            if isinstance(tags, list) and tag in tags
                        ]
                    )
        return qs

    @extend_schema(request=ContactInput, responses={201: ContactOut})
    def create(self, request):
        data = _valid(ContactInput, request.data)
        workspace = target_workspace(user=request.user, workspace_id=data.pop("workspace", None))
        contact = contacts.create_contact(workspace=workspace, **data)
        return Response(self.represent(contact), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[ID_PARAM], request=ContactInput, responses={200: ContactOut})
    def update(self, request, pk=None, partial=False):
        contact = self.get_object(pk)
        data = _valid(ContactInput, request.data, partial=partial)
        data.pop("workspace", None)  # moving between workspaces is not supported
        if not partial:  # PUT: the whole contact
            data = {"name": "", "email": "", "phone": "", "tags": [], "data": {}, **data}
            data["data"] = {k: v for k, v in data["data"].items() if v is not None}
        contact = contacts.update_contact(contact=contact, merge_data=partial, **data)
        return Response(self.represent(contact))

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def remove(self, contact):
        contacts.delete_contact(contact=contact)
