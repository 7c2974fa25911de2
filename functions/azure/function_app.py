"""Azure Functions entry point (Python v2 model): a timer and an HTTP trigger → Job(s) on AKS.

The timer's schedule is the app setting ``BACKUP_SCHEDULE`` (NCRONTAB with seconds, e.g.
``0 0 2 * * *``), editable in the portal. The HTTP function takes the test payload for manual runs
and answers with the same JSON as the other clouds.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from shared.errors import BadInputError, ToolError
from shared.k8s.invocation import DispatchRequest, parse_request, run_invocation

app = func.FunctionApp()
log = logging.getLogger("mariadb_ha_backup.functions.azure")


@app.timer_trigger(schedule="%BACKUP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def scheduled_dispatch(timer: func.TimerRequest) -> None:
    # The timer carries no "this occurrence" time; the Job name has minute resolution, so "now"
    # names the same Job for any duplicate firing within the scheduled minute.
    result = run_invocation(request=DispatchRequest(), platform="aks")
    log.info("dispatch finished: %s", json.dumps([{k: v for k, v in job.items() if k not in ("job", "manifest")}
                                                  for job in result.response()["jobs"]]))
    result.raise_if_failed()


@app.route(route="dispatch", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def manual_dispatch(req: func.HttpRequest) -> func.HttpResponse:
    try:
        body = req.get_body().decode("utf-8", errors="replace")
        payload = json.loads(body) if body.strip() else None
        result = run_invocation(request=parse_request(payload), platform="aks")
    except json.JSONDecodeError as exc:
        return _json({"error": f"the request body is not JSON ({exc.msg})"}, status=400)
    except ToolError as exc:
        return _json({"error": str(exc)}, status=400 if isinstance(exc, BadInputError) else 500)
    return _json(result.response(), status=500 if result.failed else 200)


def _json(body: dict[str, object], *, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
