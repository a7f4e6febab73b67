"""Every model, imported so that `Base.metadata` knows all tables."""

from app.db import Base

__all__ = ["Base"]
