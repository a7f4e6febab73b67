"""The hourly event counts the overview reads, and how far the events are folded into them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# The one row of event_fold.
FOLD_ROW = 1


class EventHour(Base):
    """How many events of one name, folded so far, were received in one UTC hour."""

    __tablename__ = "event_hours"

    hour: Mapped[datetime] = mapped_column(primary_key=True)  # the start of the hour
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger, default=0)


class EventFold(Base):
    """The fold's watermark: event_hours counts exactly the events with id <= `folded_id`.

    `candidate_id` is the highest event id seen at `candidate_at`; a later fold moves
    the watermark up to it once it has settled (app/rollup.py says why).
    """

    __tablename__ = "event_fold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    folded_id: Mapped[int] = mapped_column(BigInteger, default=0)
    folded_at: Mapped[datetime | None] = mapped_column()
    candidate_id: Mapped[int | None] = mapped_column(BigInteger)
    candidate_at: Mapped[datetime | None] = mapped_column()
