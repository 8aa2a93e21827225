"""The ``ha`` section: hot standby (callcenter/ha/). Two or more daemons on one PBX and one PostgreSQL; a lease
row in the database says which one leads (docs/scale.md, "Hot standby")."""

from __future__ import annotations

from pydantic import Field, model_validator

from config.models.base import Section


class HaConfig(Section):
    #: this node's name in the lease row (unique per node: the hostname is a good one)
    node: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: where people reach this node's web app (http://host:port); a standby redirects there while this node leads
    advertise_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/.*)?$")
    #: the lease's length on the database's clock
    lease_seconds: float = Field(default=3.0, gt=0.5, le=60)
    #: how often the leader renews it
    renew_seconds: float = Field(default=1.0, gt=0.05, le=20)
    #: how often a standby looks whether the lease has expired
    poll_seconds: float = Field(default=0.25, gt=0.01, le=10)
    #: the leader fences itself this long before the lease could expire (covers an action still in transit)
    margin_seconds: float = Field(default=0.5, ge=0.1, le=10)

    @model_validator(mode="after")
    def _timings(self) -> HaConfig:
        if self.renew_seconds * 2 > self.lease_seconds - self.margin_seconds:
            raise ValueError("renew_seconds must be at most half of lease_seconds - margin_seconds "
                             "(one lost renewal must not cost the lease)")
        return self
