"""Run the Alembic migrations (alembic/ at the repository root) from Python.

The command line does the same: `alembic -x url=... upgrade head` (or CALLCENTER_DATABASE_URL).
`Store(url)` creates a missing table itself (SQLite default); deployments on PostgreSQL that want
managed schema changes run `upgrade(url)` (or the CLI) and open the store with `create=False`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]
ALEMBIC_INI = ROOT / "alembic.ini"


class MigrationError(RuntimeError):
    """The migration scripts are not where they should be (e.g. an install without the repository)."""


def _config(url: str | URL) -> Config:
    from alembic.config import Config  # imported here: only migrations need Alembic

    if not ALEMBIC_INI.is_file():
        raise MigrationError(f"{ALEMBIC_INI} not found: run migrations from a repository checkout")
    cfg = Config(str(ALEMBIC_INI))
    cfg.attributes["keep_logging"] = True
    rendered = make_url(url).render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))  # configparser interpolates %
    return cfg


def upgrade(url: str | URL, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(url), revision)


def downgrade(url: str | URL, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(url), revision)


def head() -> str:
    """The newest revision of the migration scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(ALEMBIC_INI))
    found = ScriptDirectory.from_config(cfg).get_current_head()
    if found is None:
        raise MigrationError("no migration scripts")
    return found
