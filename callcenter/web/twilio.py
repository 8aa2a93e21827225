"""The same IVR menu served as TwiML on a Twilio voice webhook.

Twilio POSTs ``/twilio/voice`` when a call comes in, and again with ``Digits`` after each ``<Gather>``
(``?event=timeout`` when the caller typed nothing, ``?event=recorded`` after a ``<Record>``). Each request
is checked against ``X-Twilio-Signature`` with twilio's own ``RequestValidator`` (HMAC-SHA1 of the URL and
the POST parameters with the account's auth token): 403 ``bad_signature`` otherwise. The token stays a
``SecretStr`` and is never logged.

The interpreter is the one the FastAGI adapter runs (``ivr.interpreter.IvrRun``), one run per ``CallSid``
held between requests (a call keeps the menu version it started on). Commands become verbs: Play ->
``<Say>`` the prompt text (or ``<Play>`` the sound file under ``sound_base_url``; Twilio plays verbs in
order, so the run is told ``Played`` at once), Collect -> ``<Gather>`` + a ``<Redirect>`` for the timeout,
Record -> ``<Record>``, Enqueue -> ``<Enqueue>``, Transfer -> ``<Dial>``, HangupCall -> ``<Hangup>``.

``/twilio/sms`` takes the citizen's SMS reply to a follow-up (回访): signed like the voice webhooks (against
``tickets.twilio.webhook_url``), the digit goes onto the sender's ticket awaiting a reply (unsatisfied
reopens it to its department), and a ``<Message>`` answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from asterisk.agi.ivr import AgiOptions
from ivr.interpreter import (
    Collect,
    Digits,
    Enqueue,
    HangupCall,
    IvrCommand,
    IvrError,
    IvrEvent,
    IvrRun,
    Play,
    Played,
    Record,
    Recorded,
    SetVar,
    Timeout,
    Transfer,
)
from ivr.model import Menu

log = logging.getLogger(__name__)

VOICE_PATH = "/twilio/voice"
#: calls whose run is kept between requests; the oldest is dropped past this (a call Twilio forgot)
MAX_CALLS = 5000
MAX_BODY = 64 * 1024
SAY_LANGUAGE = {"zh": "cmn-CN", "en": "en-US"}


class MenuSource(Protocol):
    def current(self) -> Any: ...  # .menu: the serving Menu

    @property
    def options(self) -> AgiOptions: ...


class TwilioIvr:
    def __init__(self, menus: MenuSource, token: SecretStr, *, clock: Callable[[], datetime], language: str = "zh",
                 public_url: str | None = None, sound_base_url: str | None = None) -> None:
        self.menus = menus
        self._validator = RequestValidator(token.get_secret_value())
        self.clock = clock
        self.language = language
        self.public_url = public_url.rstrip("/") if public_url else None
        self.sound_base_url = sound_base_url.rstrip("/") if sound_base_url else None
        self.runs: OrderedDict[str, IvrRun] = OrderedDict()
        self.refused = 0  # requests with a bad signature
        self.results: list[IvrRun] = []  # finished runs, for whoever records them (bounded)

    def __repr__(self) -> str:
        return f"TwilioIvr(public_url={self.public_url!r}, calls={len(self.runs)})"

    # -- signature ----------------------------------------------------------------------------------

    def signed_url(self, request: Request) -> str:
        if self.public_url is None:
            return str(request.url)
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{self.public_url}{request.url.path}{query}"

    def valid(self, url: str, params: dict[str, str], signature: str) -> bool:
        return bool(signature) and bool(self._validator.validate(url, params, signature))

    # -- one request --------------------------------------------------------------------------------

    def respond(self, params: dict[str, str], event: str | None) -> str:
        call_sid = params.get("CallSid", "")
        if not call_sid:
            raise IvrError("no CallSid")
        now = self.clock()
        run = self.runs.get(call_sid)
        if run is None:
            options = self.menus.options
            run = IvrRun(self._menu(), self.language, tz=options.tz, calendar=options.calendar,
                         caller=params.get("From", ""))
            self.runs[call_sid] = run
            while len(self.runs) > MAX_CALLS:
                self.runs.popitem(last=False)
            commands = run.start(now)
        else:
            commands = run.handle(self._event(run, params, event, now))
        twiml = self._twiml(run, commands)
        if run.done:
            self.runs.pop(call_sid, None)
            self.results = [*self.results[-99:], run]
        return twiml

    def hung_up(self, call_sid: str) -> None:
        """Twilio's status callback: the caller is gone."""
        from ivr.interpreter import Hangup

        run = self.runs.pop(call_sid, None)
        if run is not None:
            run.handle(Hangup(self.clock()))
            self.results = [*self.results[-99:], run]

    def _menu(self) -> Menu:
        menu: Menu = self.menus.current().menu
        return menu

    def _event(self, run: IvrRun, params: dict[str, str], event: str | None, now: datetime) -> IvrEvent:
        if event == "recorded":
            return Recorded(now)
        digits = params.get("Digits", "")
        if event == "timeout" or not digits:
            return Timeout(now)
        return Digits(digits, now)

    def _twiml(self, run: IvrRun, commands: list[IvrCommand]) -> str:
        response = VoiceResponse()
        while True:
            follow: list[IvrCommand] | None = None
            for index, command in enumerate(commands):
                last = index == len(commands) - 1
                if isinstance(command, Play):
                    self._say(response, run, command.file)
                    if last and not run.done:
                        follow = run.handle(Played(self.clock()))
                elif isinstance(command, Collect):
                    gather = response.gather(input="dtmf", num_digits=command.max_digits,
                                             timeout=max(1, round(command.timeout_ms / 1000)), finish_on_key="#",
                                             action=VOICE_PATH, method="POST")
                    self._say(gather, run, command.file)
                    response.redirect(f"{VOICE_PATH}?event=timeout", method="POST")
                elif isinstance(command, Record):
                    response.record(max_length=command.max_seconds, finish_on_key="#", play_beep=True,
                                    action=f"{VOICE_PATH}?event=recorded", method="POST")
                elif isinstance(command, Enqueue):
                    response.enqueue(command.queue)
                elif isinstance(command, Transfer):
                    response.dial(command.number)
                elif isinstance(command, HangupCall):
                    response.hangup()
                elif isinstance(command, SetVar):
                    pass  # no channel variables on Twilio: the call data stays with the run
            if follow is None:
                return str(response)
            commands = follow

    def _say(self, verb: VoiceResponse | Gather, run: IvrRun, file: str) -> None:
        if self.sound_base_url is not None:
            verb.play(f"{self.sound_base_url}/{file}.wav")
            return
        verb.say(self._text_of(run, file) or file, language=SAY_LANGUAGE.get(run.language, "cmn-CN"))

    @staticmethod
    def _text_of(run: IvrRun, file: str) -> str:
        for node in run.menu.nodes.values():
            for attr in ("prompt", "invalid_prompt"):
                prompt = getattr(node, attr, None)
                if prompt is None:
                    continue
                for item in prompt.by_language.values():
                    if item.file == file:
                        return str(item.text)
        return ""


async def _form(request: Request) -> dict[str, str] | None:
    """Twilio posts application/x-www-form-urlencoded; parsed here (no multipart dependency).
    None: the body is over MAX_BODY."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _signature(request: Request) -> str:
    return request.headers.get("x-twilio-signature", "")


def _log_refused(what: str, request: Request) -> None:
    log.warning("%s from %s refused: bad signature", what, request.client.host if request.client else "?")


def twilio_routes(ivr: TwilioIvr) -> list[BaseRoute]:
    async def params_of(request: Request) -> dict[str, str]:
        params = await _form(request)
        if params is None:
            raise _Refused()
        if not ivr.valid(ivr.signed_url(request), params, _signature(request)):
            ivr.refused += 1
            _log_refused("Twilio webhook", request)
            raise _Refused()
        return params

    async def voice(request: Request) -> Response:
        try:
            params = await params_of(request)
        except _Refused:
            return JSONResponse({"error": "bad_signature", "detail": "X-Twilio-Signature does not match"},
                                status_code=403)
        try:
            body = ivr.respond(params, request.query_params.get("event"))
        except IvrError as exc:
            return JSONResponse({"error": "bad_call_state", "detail": str(exc)}, status_code=400)
        return Response(body, media_type="application/xml")

    async def status(request: Request) -> Response:
        try:
            params = await params_of(request)
        except _Refused:
            return JSONResponse({"error": "bad_signature", "detail": "X-Twilio-Signature does not match"},
                                status_code=403)
        if params.get("CallStatus") in ("completed", "busy", "failed", "no-answer", "canceled"):
            ivr.hung_up(params.get("CallSid", ""))
        return Response(status_code=204)

    return [Route(VOICE_PATH, voice, methods=["POST"]), Route("/twilio/status", status, methods=["POST"])]


class _Refused(Exception):
    pass


# -- SMS follow-up replies (回访 by SMS) -----------------------------------------------------------------

SMS_PATH = "/twilio/sms"
SMS_TEXT = {
    "zh": {"thanks": "感谢您的评价。", "reopened": "感谢您的评价，您的工单{number}已退回承办单位重新办理。",
           "unknown": "未找到等待您评价的工单。如需帮助请拨打12345。",
           "invalid": "请回复数字评价：1 满意，2 基本满意，3 不满意。"},
    "en": {"thanks": "Thank you for your feedback.",
           "reopened": "Thank you. Your request {number} has been sent back to the department to be handled again.",
           "unknown": "We found no request waiting for your reply. Call 12345 if you need help.",
           "invalid": "Please reply with a digit: 1 satisfied, 2 mostly satisfied, 3 not satisfied."},
}


def caller_forms(number: str) -> list[str]:
    """The forms a ticket may hold the sender's number in: Twilio sends E.164 (+8613900001111), Asterisk
    the national number (13900001111)."""
    forms = [number]
    bare = number.removeprefix("+")
    if bare != number:
        forms.append(bare)
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            forms.append(number[len(prefix):])
    return forms


class SmsReplies:
    """Follow-up replies by SMS: the signature (tickets.followup.verify_twilio_reply against the configured
    public URL), the digit (tickets.followup.parse_reply), the sender's ticket awaiting a reply, the verdict
    on it (an unsatisfied one reopens it to its department); TwiML <Message> back. Counts every drop."""

    def __init__(self, service: Any, token: SecretStr, webhook_url: str, *, clock: Callable[[], datetime],
                 language: str = "zh") -> None:
        self.service = service
        self._token = token
        self.webhook_url = webhook_url
        self.clock = clock
        self.language = language if language in SMS_TEXT else "en"
        self.refused = 0  # bad signature (403)
        self.invalid = 0  # no digit we know
        self.unmatched = 0  # no ticket of that number awaits a reply
        self.recorded = 0

    def __repr__(self) -> str:
        return f"SmsReplies(webhook_url={self.webhook_url!r}, recorded={self.recorded}, refused={self.refused})"

    def valid(self, params: dict[str, str], signature: str) -> bool:
        from tickets.followup import verify_twilio_reply

        return bool(signature) and verify_twilio_reply(self._token.get_secret_value(), self.webhook_url, params,
                                                       signature)

    def _message(self, key: str, **values: str) -> str:
        from twilio.twiml.messaging_response import MessagingResponse

        response = MessagingResponse()
        response.message(SMS_TEXT[self.language][key].format(**values))
        return str(response)

    def answer(self, params: dict[str, str]) -> str:
        """The reply's effect (blocking: the store), as TwiML."""
        from tickets.errors import TicketError
        from tickets.followup import parse_reply
        from tickets.workflow import WorkflowError

        satisfaction = parse_reply(params.get("Body", ""))
        if satisfaction is None:
            self.invalid += 1
            return self._message("invalid")
        number = None
        for form in caller_forms(params.get("From", "").strip()):
            number = self.service.awaiting_reply(form) if form else None
            if number is not None:
                break
        if number is None:
            self.unmatched += 1
            log.info("SMS reply with no ticket awaiting it dropped")
            return self._message("unknown")
        try:
            self.service.record_follow_up(number, satisfaction, self.clock(), note="SMS reply")
        except (TicketError, WorkflowError) as exc:  # answered or moved meanwhile (a repeated reply)
            self.unmatched += 1
            log.info("SMS reply for %s not recorded: %s", number, exc)
            return self._message("unknown")
        self.recorded += 1
        return self._message("reopened" if satisfaction == "unsatisfied" else "thanks", number=number)


def sms_routes(replies: SmsReplies) -> list[BaseRoute]:
    async def sms(request: Request) -> Response:
        params = await _form(request)
        if params is None:
            return JSONResponse({"error": "body_too_large", "detail": f"at most {MAX_BODY} bytes"}, status_code=413)
        if not replies.valid(params, _signature(request)):
            replies.refused += 1
            _log_refused("Twilio SMS reply", request)
            return JSONResponse({"error": "bad_signature", "detail": "X-Twilio-Signature does not match"},
                                status_code=403)
        twiml = await asyncio.to_thread(replies.answer, params)
        return Response(twiml, media_type="application/xml")

    return [Route(SMS_PATH, sms, methods=["POST"])]
