"""Cloud Run functions entry point: Cloud Scheduler (HTTP + OIDC) or a console test → Job(s) on GKE.

The OIDC token is checked by the platform (the function does not allow unauthenticated calls; the
scheduler's service account has the invoker role), so the function only reads the body and the
``X-CloudScheduler-ScheduleTime`` header. Status: 200 all dispatched, 400 bad input, 500 when a
target failed (Cloud Scheduler retries; safe, the Job names are deterministic).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import functions_framework

from shared.errors import BadInputError, ToolError
from shared.k8s.invocation import parse_request, run_invocation
from shared.times import parse_time

if TYPE_CHECKING:
    import flask

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"


@functions_framework.http
def dispatch(request: flask.Request) -> tuple[dict[str, Any], int]:
    try:
        body = request.get_data(as_text=True)
        payload = json.loads(body) if body.strip() else None
        header = request.headers.get(SCHEDULE_TIME_HEADER)
        platform_time = parse_time(header, what=SCHEDULE_TIME_HEADER) if header else None
        result = run_invocation(request=parse_request(payload), platform="gke", platform_time=platform_time)
    except json.JSONDecodeError as exc:
        return {"error": f"the request body is not JSON ({exc.msg})"}, 400
    except ToolError as exc:
        return {"error": str(exc)}, 400 if isinstance(exc, BadInputError) else 500
    return result.response(), 500 if result.failed else 200
