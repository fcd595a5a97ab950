"""TA accounts: several TAs, each with a bearer token of their own.

Only token hashes are stored. The ``bootstrap`` account carries the token from
``GRADEDESCENT_TA_TOKEN`` (or the generated ``ta_token`` file): every start
sets its hash again, so changing that variable and restarting replaces the
token, and the API can neither rotate nor revoke it. Other accounts are added,
rotated and revoked through the API by any TA.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.db import transaction
from server.models import TAAccount
from server.security import hash_token, new_token

logger = logging.getLogger(__name__)

BOOTSTRAP_NAME = "bootstrap"


class AccountError(ValueError):
    """Raised when an account change is not possible; the message gives the reason and what to do."""


def bootstrap(factory: sessionmaker[Session], token: str) -> None:
    """Create the bootstrap account, or set its token to ``token``."""
    with transaction(factory) as session:
        account = session.scalar(select(TAAccount).where(TAAccount.bootstrap.is_(True)))
        if account is None:
            session.add(TAAccount(name=BOOTSTRAP_NAME, token_hash=hash_token(token), bootstrap=True))
            logger.info("TA account %r created from the configured TA token", BOOTSTRAP_NAME)
        else:
            account.token_hash = hash_token(token)
            account.revoked_at = None


def find_by_token(session: Session, token: str) -> TAAccount | None:
    """Return the active account whose token is ``token``, or None."""
    return session.scalar(
        select(TAAccount).where(TAAccount.token_hash == hash_token(token), TAAccount.revoked_at.is_(None))
    )


def create(session: Session, name: str) -> tuple[TAAccount, str]:
    """Add an account and return it with its token, which is not stored anywhere."""
    token = new_token()
    account = TAAccount(name=name, token_hash=hash_token(token))
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        raise AccountError(f"a TA account named {name!r} already exists: choose another name") from None
    return account, token


def rotate(account: TAAccount) -> str:
    """Give ``account`` a new token, which also reactivates a revoked account; return the token."""
    _refuse_bootstrap(account, "rotate")
    token = new_token()
    account.token_hash = hash_token(token)
    account.revoked_at = None
    return token


def revoke(account: TAAccount, now: dt.datetime) -> None:
    """Revoke ``account``'s token; a later rotation gives it a new one."""
    _refuse_bootstrap(account, "revoke")
    account.token_hash = None
    account.revoked_at = now


def _refuse_bootstrap(account: TAAccount, verb: str) -> None:
    if account.bootstrap:
        raise AccountError(
            f"cannot {verb} the {account.name!r} account through the API: its token is GRADEDESCENT_TA_TOKEN "
            "(or the ta_token file in the data directory); change it there and restart the service"
        )
