"""Column types shared by the models."""

from sqlalchemy import BigInteger, Integer

# BIGINT on PostgreSQL; INTEGER on SQLite, the only type SQLite auto-increments as a rowid.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
