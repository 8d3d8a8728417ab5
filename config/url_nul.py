"""A NUL character (%00) in a request's path or query string is a 400 JSON answer before any
view runs: no id, token or filter holds one, and PostgreSQL stores no NUL in text, so a
lookup or a stored query string with one failed there as a 500."""

from django.http import JsonResponse

from config.api_errors import error_body

MESSAGE = "The URL must not contain a NUL (%00) character."


class RefuseNulInUrl:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return JsonResponse(error_body("BAD_REQUEST", MESSAGE, {"url": [MESSAGE]}), status=400)
        return self.get_response(request)
