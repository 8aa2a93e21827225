"""The ticket service's errors: each carries the stable slug and HTTP status the web edge reports."""

from __future__ import annotations


class TicketError(Exception):
    """Base of the service's errors; `slug` is the stable name the web edge reports."""

    slug = "ticket_error"
    status = 400


class TicketNotFound(TicketError):
    slug, status = "ticket_not_found", 404


class InvalidTicket(TicketError):
    slug, status = "invalid_ticket", 422


class Forbidden(TicketError):
    slug, status = "forbidden", 403


class ConcurrentChange(TicketError):
    slug, status = "concurrent_change", 409
