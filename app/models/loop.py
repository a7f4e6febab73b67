"""The closed loop's own state: holds a person clears, flapping episodes, farm traffic."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.models.types import BigIntPK


class Hold(Base):
    """Launches of one rule for one throttle key, held until a person clears the hold."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    # The rendered throttle key ("" when the rule has no throttle: the whole rule).
    throttle_key: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))  # unverified, storm
    reason: Mapped[str] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(BigInteger)  # the job that caused it
    event_id: Mapped[int | None] = mapped_column(BigInteger)  # the Lifeguard event it emitted
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column()
    cleared_by: Mapped[str | None] = mapped_column(String(128))
    # A storm holds the launches of one farm role (rule "", every rule) instead of a rule's key.
    farm_id: Mapped[int | None] = mapped_column(BigInteger)
    farm_role_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_holds_rule_key", "rule", "throttle_key", "cleared_at"),
        Index("ix_holds_farm_role", "farm_role_id", "cleared_at"),
    )


class FlapEpisode(Base):
    """One server's current (or last) flapping episode: `FlapDetected` once per episode."""

    __tablename__ = "flap_episodes"

    server_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest down/up change seen in it: the episode ends a window after this.
    last_change_at: Mapped[datetime] = mapped_column(default=utcnow)
    transitions: Mapped[int] = mapped_column(Integer, default=0)
    event_id: Mapped[int | None] = mapped_column(BigInteger)


class FarmTraffic(Base):
    """What the worker learned of one farm's deliveries, and its open ingest gap, if any."""

    __tablename__ = "farm_traffic"

    farm_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_event_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_event_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest event learned from: the next pass reads only events after it.
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    # Typical seconds between two deliveries (an exponentially weighted mean).
    mean_gap_seconds: Mapped[float | None] = mapped_column()
    # An open gap: since when the farm is silent past its bound, the IngestGap it emitted,
    # and how many events Scalr's EventsList showed that never arrived (None: not asked).
    gap_since: Mapped[datetime | None] = mapped_column()
    gap_event_id: Mapped[int | None] = mapped_column(BigInteger)
    gap_missed: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_farm_traffic_last_event_id", "last_event_id"),)
