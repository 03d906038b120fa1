"""The channels against real local servers: aiosmtpd for email, a fake Twilio for SMS.

No database here: the channels take an ``Outgoing`` and ``Settings`` and nothing else.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from services.core.settings import Environment, Settings
from tests.fakes.sms_provider import FakeSmsProvider
from tests.fakes.smtp import FakeSmtpServer
from workers.channels import Outgoing, SendFailure, send, sms
from workers.channels.email import send_email
from workers.channels.outbox_file import write_to_outbox
from workers.channels.sms import send_sms

PATIENT_NUMBER = "+15551234567"
PATIENT_EMAIL = "maría.núñez@example.org"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.test,
        "secret_key": "x" * 40,
        "data_dir": tmp_path,
        "email_from": "reminders@clinic.example",
        # Explicit, so neither a developer's .env nor CLINIC_* variables switch a channel on.
        "smtp_host": None,
        "sms_account_sid": None,
        "_env_file": None,
    }
    return Settings(**(values | overrides))


def email(**changes: Any) -> Outgoing:
    values: dict[str, Any] = {
        "message_id": uuid.UUID("0b6f1c1e-5d1e-4a43-9a52-2f8f3c9d4e71"),
        "channel": "email",
        "to": "patient@example.org",
        "subject": "Your visit on Tuesday",
        "body": "Hola María Núñez, see you Tuesday at 10:30.\nClínica Ñandú",
        "sender_name": "Clínica Ñandú",
    }
    return Outgoing(**(values | changes))


def text(**changes: Any) -> Outgoing:
    values: dict[str, Any] = {
        "message_id": uuid.uuid4(),
        "channel": "sms",
        "to": PATIENT_NUMBER,
        "subject": "",
        "body": "Reminder: Tuesday 10:30 at Ñandú. Reply C to confirm.",
        "sender_name": "Clínica Ñandú",
    }
    return Outgoing(**(values | changes))


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_server: FakeSmtpServer) -> FakeSmtpServer:
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def smtp_settings(tmp_path: Path, smtp: FakeSmtpServer) -> Settings:
    return make_settings(tmp_path, smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none")


@pytest.fixture(scope="module")
def provider_server() -> Iterator[FakeSmsProvider]:
    with FakeSmsProvider() as provider:
        yield provider


@pytest.fixture
def provider(provider_server: FakeSmsProvider) -> FakeSmsProvider:
    provider_server.clear()
    return provider_server


@pytest.fixture
def sms_settings(tmp_path: Path, provider: FakeSmsProvider) -> Settings:
    return make_settings(
        tmp_path,
        sms_base_url=provider.base_url,
        sms_account_sid=provider.account_sid,
        sms_auth_token=provider.auth_token,
        sms_from=provider.from_number,
    )


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


# Email ---------------------------------------------------------------------------------


def test_email_arrives_with_its_headers(smtp: FakeSmtpServer, smtp_settings: Settings) -> None:
    message_id = send_email(email(), smtp_settings)

    assert message_id == "<0b6f1c1e-5d1e-4a43-9a52-2f8f3c9d4e71@clinic.example>"
    [received] = smtp.wait_for(1)
    assert received.message_id == message_id
    assert received.to == "patient@example.org"
    assert received.rcpt_tos == ["patient@example.org"]
    assert received.mail_from == "reminders@clinic.example"
    assert received.subject == "Your visit on Tuesday"
    assert received.from_ == "Clínica Ñandú <reminders@clinic.example>"
    assert received.message["Date"] is not None
    assert received.body == "Hola María Núñez, see you Tuesday at 10:30.\nClínica Ñandú\n"
    assert received.message.get_content_charset() == "utf-8"


def test_a_resend_carries_the_same_message_id(
    smtp: FakeSmtpServer, smtp_settings: Settings
) -> None:
    first, second = send_email(email(), smtp_settings), send_email(email(), smtp_settings)
    assert first == second
    assert {m.message_id for m in smtp.wait_for(2)} == {first}


def test_non_ascii_subject_and_ascii_only_body(
    smtp: FakeSmtpServer, smtp_settings: Settings
) -> None:
    send_email(email(subject="Confirmación de cita", body="See you soon."), smtp_settings)
    [received] = smtp.wait_for(1)
    assert received.subject == "Confirmación de cita"
    assert received.body == "See you soon.\n"


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_5xx_reply_is_permanent(
    smtp: FakeSmtpServer, smtp_settings: Settings, stage: str
) -> None:
    (smtp.reject_rcpt if stage == "rcpt" else smtp.reject_data)(550)
    with pytest.raises(SendFailure) as failure:
        send_email(email(), smtp_settings)
    assert (failure.value.code, failure.value.permanent) == ("smtp-550", True)
    assert smtp.messages == []


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_4xx_reply_is_transient_and_the_retry_goes_through(
    smtp: FakeSmtpServer, smtp_settings: Settings, stage: str
) -> None:
    (smtp.reject_rcpt if stage == "rcpt" else smtp.reject_data)(451)
    with pytest.raises(SendFailure) as failure:
        send_email(email(), smtp_settings)
    assert (failure.value.code, failure.value.permanent) == ("smtp-451", False)

    send_email(email(), smtp_settings)
    assert len(smtp.wait_for(1)) == 1


def test_concurrent_sends_wait_on_a_slow_server_side_by_side(tmp_path: Path) -> None:
    """A threaded worker's sends each take a session of their own (one login each), so
    their waits overlap; afterwards the idle sessions are reused (no new login)."""
    with FakeSmtpServer(username="clinic", password="s3cret") as server:
        settings = make_settings(
            tmp_path,
            smtp_host=server.host,
            smtp_port=server.port,
            smtp_security="none",
            smtp_username="clinic",
            smtp_password="s3cret",
        )
        server.stall(1.0, times=3)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=3) as pool:
            ids = list(
                pool.map(lambda _: send_email(email(message_id=uuid.uuid4()), settings), range(3))
            )
        elapsed = time.monotonic() - started
        assert len(set(ids)) == 3 and len(server.wait_for(3)) == 3
        assert elapsed < 2.0  # three 1 s stalls, not one after the other
        assert server.logins == ["clinic"] * 3

        send_email(email(message_id=uuid.uuid4()), settings)
        assert len(server.wait_for(4)) == 4
        assert server.logins == ["clinic"] * 3


def test_failure_codes_hold_no_address(smtp: FakeSmtpServer, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none"
    )
    smtp.reject_rcpt(550)
    with pytest.raises(SendFailure) as failure:
        send_email(email(to=PATIENT_EMAIL), settings)
    assert "@" not in failure.value.code and "núñez" not in str(failure.value)
    # Raised ``from None``: a logged traceback shows no smtplib error quoting the address.
    assert failure.value.__suppress_context__


def test_nothing_listening_is_transient(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=closed_port(),
        smtp_security="none",
        smtp_timeout_seconds=2,
    )
    with pytest.raises(SendFailure) as failure:
        send_email(email(), settings)
    assert (failure.value.code, failure.value.permanent) == ("ConnectionRefusedError", False)


def test_a_silent_server_times_out_transiently(tmp_path: Path, silent_port: int) -> None:
    settings = make_settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=silent_port,
        smtp_security="none",
        smtp_timeout_seconds=0.3,
    )
    with pytest.raises(SendFailure) as failure:
        send_email(email(), settings)
    assert (failure.value.code, failure.value.permanent) == ("TimeoutError", False)


def test_starttls_refused_by_a_server_without_it_is_transient(
    smtp: FakeSmtpServer, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="starttls"
    )
    with pytest.raises(SendFailure) as failure:
        send_email(email(), settings)
    assert (failure.value.code, failure.value.permanent) == ("SMTPNotSupportedError", False)
    assert smtp.messages == []


def test_login_when_a_username_is_set(tmp_path: Path) -> None:
    with FakeSmtpServer(username="clinic", password="s3cret") as server:
        settings = make_settings(
            tmp_path,
            smtp_host=server.host,
            smtp_port=server.port,
            smtp_security="none",
            smtp_username="clinic",
            smtp_password="s3cret",
        )
        send_email(email(), settings)
        assert len(server.wait_for(1)) == 1
        assert server.logins == ["clinic"]

        wrong = settings.model_copy(update={"smtp_password": "nope"})
        with pytest.raises(SendFailure) as failure:
            send_email(email(), wrong)
    # The operator fixes the password; the messages must still be waiting then.
    assert (failure.value.code, failure.value.permanent) == ("smtp-535", False)


def test_a_header_with_a_line_break_is_permanent(smtp_settings: Settings) -> None:
    with pytest.raises(SendFailure) as failure:
        send_email(email(subject="Hi\r\nBcc: someone@example.org"), smtp_settings)
    assert (failure.value.code, failure.value.permanent) == ("email-invalid-message", True)


# SMS -----------------------------------------------------------------------------------


def test_sms_is_posted_with_auth_and_fields(
    provider: FakeSmsProvider, sms_settings: Settings
) -> None:
    outgoing = text()
    sid = send_sms(outgoing, sms_settings)

    [sent] = provider.wait_for(1)
    assert sid == sent.sid and sid.startswith("SM") and len(sid) == 34
    assert (sent.to, sent.from_, sent.body) == (PATIENT_NUMBER, provider.from_number, outgoing.body)
    assert sent.idempotency_key == str(outgoing.message_id)


def test_sms_with_a_shared_client(provider: FakeSmsProvider, sms_settings: Settings) -> None:
    with httpx.Client() as client:
        sids = {send_sms(text(), sms_settings, client) for _ in range(3)}
    assert len(sids) == 3 and len(provider.messages) == 3


@pytest.mark.parametrize("number", ["+15005550001", "not-a-number"])
def test_an_invalid_number_is_permanent_and_not_leaked(
    provider: FakeSmsProvider, sms_settings: Settings, number: str
) -> None:
    provider.invalid_numbers.add("+15005550001")
    with pytest.raises(SendFailure) as failure:
        send_sms(text(to=number), sms_settings)
    assert (failure.value.code, failure.value.permanent) == ("sms-21211", True)
    assert number not in str(failure.value) and "5550001" not in failure.value.code
    assert failure.value.__context__ is None  # the error body quoting the number is gone


@pytest.mark.parametrize(("status", "code"), [(500, "sms-http-500"), (503, "sms-http-503")])
def test_server_errors_are_transient_and_the_retry_goes_through(
    provider: FakeSmsProvider, sms_settings: Settings, status: int, code: str
) -> None:
    provider.fail_next(1, status=status)
    with pytest.raises(SendFailure) as failure:
        send_sms(text(), sms_settings)
    assert (failure.value.code, failure.value.permanent) == (code, False)

    send_sms(text(), sms_settings)
    assert len(provider.messages) == 1 and provider.requests == 2


def test_rate_limited_is_transient(provider: FakeSmsProvider, sms_settings: Settings) -> None:
    provider.fail_next(2, status=429)
    for _ in range(2):
        with pytest.raises(SendFailure) as failure:
            send_sms(text(), sms_settings)
        # Twilio's 429 body carries its own code too (20429); both are kept.
        assert (failure.value.code, failure.value.permanent) == ("sms-http-429-20429", False)
    send_sms(text(), sms_settings)
    assert len(provider.messages) == 1


def test_a_wrong_token_is_transient(provider: FakeSmsProvider, sms_settings: Settings) -> None:
    wrong = sms_settings.model_copy(update={"sms_auth_token": "not-the-token"})
    with pytest.raises(SendFailure) as failure:
        send_sms(text(), wrong)
    assert (failure.value.code, failure.value.permanent) == ("sms-http-401-20003", False)
    assert PATIENT_NUMBER not in str(failure.value)
    assert provider.messages == []


def test_other_client_errors_are_transient(
    provider: FakeSmsProvider, sms_settings: Settings
) -> None:
    wrong_sender = sms_settings.model_copy(update={"sms_from": "+15550000000"})
    with pytest.raises(SendFailure) as failure:
        send_sms(text(), wrong_sender)
    assert (failure.value.code, failure.value.permanent) == ("sms-http-400-21606", False)


def test_accepted_without_a_sid_is_not_retried(sms_settings: Settings) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(201, text="<html>"))
    with httpx.Client(transport=transport) as client, pytest.raises(SendFailure) as failure:
        send_sms(text(), sms_settings, client)
    assert (failure.value.code, failure.value.permanent) == ("sms-bad-response", True)


def test_provider_down_is_transient(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        sms_base_url=f"http://127.0.0.1:{closed_port()}",
        sms_account_sid="AC1",
        sms_auth_token="t",
        sms_from="+15005550006",
    )
    with pytest.raises(SendFailure) as failure:
        send_sms(text(), settings)
    assert (failure.value.code, failure.value.permanent) == ("ConnectError", False)


def test_provider_silent_times_out_transiently(
    tmp_path: Path, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sms, "TIMEOUT_SECONDS", 0.3)
    settings = make_settings(
        tmp_path,
        sms_base_url=f"http://127.0.0.1:{silent_port}",
        sms_account_sid="AC1",
        sms_auth_token="t",
        sms_from="+15005550006",
    )
    with pytest.raises(SendFailure) as failure:
        send_sms(text(), settings)
    assert (failure.value.code, failure.value.permanent) == ("ReadTimeout", False)


def test_sms_without_a_token_or_sender_is_transient(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sms_account_sid="AC1")
    with pytest.raises(SendFailure) as failure:
        send_sms(text(), settings)
    assert (failure.value.code, failure.value.permanent) == ("sms-not-configured", False)


# Outbox folder -------------------------------------------------------------------------


def test_file_channel_writes_the_whole_message(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    outgoing = email()
    with capture_logs() as logs:
        reference = write_to_outbox(outgoing, settings)

    assert reference == f"file:{outgoing.message_id}.txt"
    files = list(settings.outbox_dir.iterdir())
    assert files == [settings.outbox_dir / f"{outgoing.message_id}.txt"]  # no temp file left
    assert files[0].read_text(encoding="utf-8") == (
        "Channel: email\n"
        "To: patient@example.org\n"
        "Subject: Your visit on Tuesday\n"
        f"Message-Id: {outgoing.message_id}\n"
        "\n"
        f"{outgoing.body}\n"
    )
    assert [entry["event"] for entry in logs] == ["message written to outbox"]
    logged = repr(logs)
    assert "patient@example.org" not in logged and "María" not in logged


def test_file_channel_sms_has_no_subject_and_a_resend_overwrites(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    outgoing = text()
    write_to_outbox(outgoing, settings)
    write_to_outbox(outgoing, settings)
    [path] = settings.outbox_dir.iterdir()
    assert path.read_text(encoding="utf-8").splitlines()[:4] == [
        "Channel: sms",
        f"To: {PATIENT_NUMBER}",
        f"Message-Id: {outgoing.message_id}",
        "",
    ]


def test_file_channel_failure_is_transient(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("a file where the folder should be")
    with pytest.raises(SendFailure) as failure:
        write_to_outbox(text(), make_settings(tmp_path))
    assert failure.value.permanent is False


# Choosing a channel --------------------------------------------------------------------


def test_send_uses_the_outbox_folder_when_nothing_is_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert send(email(), settings).startswith("file:")
    assert send(text(), settings).startswith("file:")
    assert len(list(settings.outbox_dir.glob("*.txt"))) == 2


def test_send_uses_smtp_and_the_provider_when_configured(
    smtp: FakeSmtpServer, provider: FakeSmsProvider, smtp_settings: Settings, tmp_path: Path
) -> None:
    settings = smtp_settings.model_copy(
        update={
            "sms_base_url": provider.base_url,
            "sms_account_sid": provider.account_sid,
            "sms_auth_token": provider.auth_token,
            "sms_from": provider.from_number,
        }
    )
    assert send(email(), settings).startswith("<")
    assert send(text(), settings).startswith("SM")
    assert len(smtp.wait_for(1)) == 1 and len(provider.messages) == 1
    assert not settings.outbox_dir.exists()


def test_send_refuses_an_unknown_channel(tmp_path: Path) -> None:
    with pytest.raises(SendFailure) as failure:
        send(text(channel="none"), make_settings(tmp_path))
    assert failure.value.permanent
