"""Schema migration with the Alembic scripts shipped inside the package.

``Store.migrate()`` runs ``upgrade``; after changing ``models.py``, ``new_revision`` writes the next
script (no alembic.ini needed).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from ems.store.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on the %-escapes of URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``; a no-op when already there."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def new_revision(url: str, message: str, revision_id: str) -> None:
    """Write a migration script for what the models changed, e.g. ``revision_id="0002"``.

    ``url`` is a scratch database; it is first migrated to the current head, then compared with
    the models. Review the generated file in ``migrations/versions`` before committing it.
    """
    engine = make_engine(url)
    try:
        upgrade(engine)
        config = alembic_config(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message, autogenerate=True, rev_id=revision_id)
    finally:
        engine.dispose()
