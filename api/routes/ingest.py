"""Observation batches from remote sensors (role sensor only), idempotent on (sensor, seq)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session

from api.auth import Principal, require
from api.errors import ForbiddenError, InvalidError, errors_responses
from api.routes.deps import get_session
from collector.schema import SCHEMA_VERSION
from store import service
from store.schemas import IngestIn, IngestOut

router = APIRouter(tags=["ingest"], responses=errors_responses(401, 403, 413, 422))


@router.post("/ingest", response_model=IngestOut, summary="Store a batch of observations",
             description="201 when stored, 200 when this (sensor, seq) was already stored (a retry). "
                         "403 when `sensor` is not the sensor id the token was created for.",
             responses={201: {"model": IngestOut, "description": "Stored."}})
def ingest(body: IngestIn, request: Request, response: Response, session: Session = Depends(get_session),
           principal: Principal = Depends(require("ingest"))) -> IngestOut:
    if body.sensor != principal.sensor:
        raise ForbiddenError(f"this token may ingest only as sensor {principal.sensor!r}, "
                             f"not {body.sensor!r}", "sensor")
    if body.schema_version > SCHEMA_VERSION:
        raise InvalidError(f"schema_version {body.schema_version} is newer than this server's "
                           f"({SCHEMA_VERSION})", "schema_version")
    analyzer = getattr(request.app.state, "analyzer", None)
    if analyzer is None:
        stored, count, refused = service.ingest_batch(session, sensor=body.sensor, seq=body.seq,
                                                      observations=body.observations)
    else:  # stored in its turn, then sent to the central's analysis process (store.autoanalyze)
        session.rollback()  # the token is checked: give the pooled connection back while waiting for the turn
        stored, count, refused = service.ingest_batch(
            session, sensor=body.sensor, seq=body.seq, observations=body.observations,
            on_stored=analyzer.queue, turn=analyzer.storing)
        analyzer.fold_queued(wait=False)
    response.status_code = 201 if stored else 200
    return IngestOut(stored=stored, count=count, refused=refused)
