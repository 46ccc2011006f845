"""API tokens (admin only): list them (never the secret) and revoke one; creation stays on the CLI."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from sqlmodel import Session

from api import auth
from api.auth import Principal, require
from api.errors import NotFoundError, errors_responses
from api.routes.deps import get_session
from store.models import TokenRow
from store.schemas import TokenOut

router = APIRouter(tags=["tokens"], responses=errors_responses(401, 403, 422))


@router.get("/tokens", response_model=list[TokenOut], summary="Every API token (without the token itself)")
def list_tokens(session: Session = Depends(get_session),
                _p: Principal = Depends(require("token.manage"))) -> list[TokenOut]:
    return [TokenOut.model_validate(row, from_attributes=True) for row in auth.list_tokens(session)]


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut,
             summary="Revoke a token (its UI sessions end)",
             responses=errors_responses(404))
def revoke_token(token_id: int = Path(ge=1, le=2**31 - 1), session: Session = Depends(get_session),
                 principal: Principal = Depends(require("token.manage"))) -> TokenOut:
    if not auth.revoke_token(session, token_id=token_id, actor=principal.actor):
        raise NotFoundError(f"no token with id {token_id}", "token_id")
    return TokenOut.model_validate(session.get(TokenRow, token_id), from_attributes=True)
