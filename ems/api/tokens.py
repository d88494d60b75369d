"""``/api-tokens`` (admin only): list, create and revoke the tokens of this API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from starlette.concurrency import run_in_threadpool

from ems.api.auth import EmsDep, TokenCache, require_admin, token_cache
from ems.api.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut, ErrorOut

router = APIRouter(prefix="/api-tokens", tags=["API tokens"], dependencies=[Depends(require_admin)])


@router.get("", response_model=list[ApiTokenOut], summary="All tokens, revoked ones included")
async def list_tokens(ems: EmsDep) -> list[ApiTokenOut]:
    return [ApiTokenOut.of(row) for row in await run_in_threadpool(ems.store.list_api_tokens)]


@router.post(
    "",
    response_model=ApiTokenCreated,
    status_code=201,
    summary="Create a token; the answer is the only time the token is shown",
)
async def create_token(body: ApiTokenCreate, ems: EmsDep) -> ApiTokenCreated:
    token = await run_in_threadpool(ems.store.create_api_token, body.name, body.role)
    row = await run_in_threadpool(ems.store.verify_api_token, token)
    if row is None:
        raise RuntimeError("a token just created cannot be found")
    return ApiTokenCreated(**ApiTokenOut.of(row).model_dump(), token=token)


@router.delete(
    "/{token_id}",
    status_code=204,
    responses={404: {"model": ErrorOut, "description": "No active token with this id"}},
    summary="Revoke a token (at once, for this process)",
)
async def revoke_token(
    token_id: int, ems: EmsDep, cache: Annotated[TokenCache, Depends(token_cache)]
) -> Response:
    revoked = await run_in_threadpool(ems.store.revoke_api_token, token_id)
    cache.clear()
    if not revoked:
        raise HTTPException(404, f"no active API token with id {token_id} (unknown or revoked)")
    return Response(status_code=204)
