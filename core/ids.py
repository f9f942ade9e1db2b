"""Primary key type: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite."""

from sqlalchemy import BigInteger, Integer

PK = BigInteger().with_variant(Integer, "sqlite")
