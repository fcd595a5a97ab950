"""TA routes over TA accounts: add, list, rotate and revoke their tokens."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from server import accounts, audit
from server.clock import NowDep
from server.course_schemas import TAAccountCreate, TAAccountCreated, TAAccountPublic, TokenIssued
from server.deps import RowId, SessionDep, TADep
from server.models import TAAccount

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ta/accounts", tags=["ta"])


def _public(account: TAAccount) -> TAAccountPublic:
    return TAAccountPublic(
        id=account.id,
        name=account.name,
        bootstrap=account.bootstrap,
        active=account.token_hash is not None and account.revoked_at is None,
        created_at=account.created_at,
        revoked_at=account.revoked_at,
    )


def _account_or_404(session: SessionDep, account_id: int) -> TAAccount:
    account = session.get(TAAccount, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"TA account {account_id} not found")
    return account


@router.get("", summary="List the TA accounts")
def list_accounts(_: TADep, session: SessionDep) -> list[TAAccountPublic]:
    return [_public(account) for account in session.scalars(select(TAAccount).order_by(TAAccount.id))]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add a TA account and return its token once")
def create_account(body: TAAccountCreate, caller: TADep, session: SessionDep) -> TAAccountCreated:
    try:
        account, token = accounts.create(session, body.name)
    except accounts.AccountError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    audit.record(session, caller, "ta_account_create", body.name)
    session.commit()
    logger.info("TA account %r added by %r", account.name, caller.ta_name)
    return TAAccountCreated(**_public(account).model_dump(), token=token)


@router.post("/{account_id}/token", summary="Issue a TA account a new token; the old one stops working")
def rotate_account_token(account_id: RowId, caller: TADep, session: SessionDep) -> TokenIssued:
    account = _account_or_404(session, account_id)
    try:
        token = accounts.rotate(account)
    except accounts.AccountError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    audit.record(session, caller, "ta_token_rotate", account.name)
    session.commit()
    logger.info("TA account %r: token rotated by %r", account.name, caller.ta_name)
    return TokenIssued(token=token)


@router.delete(
    "/{account_id}/token",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a TA account's token until it is rotated",
)
def revoke_account_token(account_id: RowId, caller: TADep, session: SessionDep, now: NowDep) -> None:
    account = _account_or_404(session, account_id)
    try:
        accounts.revoke(account, now)
    except accounts.AccountError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    audit.record(session, caller, "ta_token_revoke", account.name)
    session.commit()
    logger.info("TA account %r: token revoked by %r", account.name, caller.ta_name)
