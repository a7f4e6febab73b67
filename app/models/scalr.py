"""How many Scalr API calls each environment has used in each clock hour."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class ScalrApiUsage(Base):
    """One fixed rate-limit window (a clock hour) of one Scalr environment."""

    __tablename__ = "scalr_api_usage"
    __table_args__ = (UniqueConstraint("environment", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    environment: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)
