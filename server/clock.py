"""The request's clock, as a dependency that tests replace.

Routes that judge time (opening times, deadlines, daily quotas) take ``NowDep``
instead of calling ``utc_now`` themselves, so a test can set the server's clock
through ``app.dependency_overrides[get_now]`` and check both sides of a
boundary without sleeping.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends

from server.models import utc_now


def get_now() -> dt.datetime:
    """Return the current time in UTC."""
    return utc_now()


NowDep = Annotated[dt.datetime, Depends(get_now)]
