"""The details form of the booking pages: each field checked, a message per field, the
values kept for the page to show again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from email_validator import EmailNotValidError, validate_email

from services.core.phones import default_region, parse_phone
from services.patients.online import Applicant

EARLIEST_BIRTH = date(1900, 1, 1)
NAME_MAX = 100
# The form's text fields: name, label, input type, autocomplete token.
FIELDS = (
    ("given_name", "First name", "text", "given-name"),
    ("family_name", "Last name", "text", "family-name"),
    ("date_of_birth", "Date of birth", "date", "bday"),
    ("phone", "Mobile phone", "tel", "tel"),
    ("email", "Email address", "email", "email"),
)
HONEYPOT = "website"


@dataclass
class Checked:
    applicant: Applicant | None
    errors: dict[str, str] = field(default_factory=dict)
    honeypot: bool = False


def _name(form: dict[str, str], key: str, errors: dict[str, str]) -> str:
    value = " ".join(form.get(key, "").split())
    if not value:
        errors[key] = "Please fill this in."
    elif len(value) > NAME_MAX or "\x00" in value:
        errors[key] = f"At most {NAME_MAX} characters."
    return value


def _birth_date(raw: str, today: date, errors: dict[str, str]) -> date | None:
    raw = raw.strip()
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            born = datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
        if not EARLIEST_BIRTH <= born <= today:
            errors["date_of_birth"] = "Please check the year."
            return None
        return born
    errors["date_of_birth"] = "Please give your date of birth, e.g. 1987-03-14."
    return None


def _phone(raw: str, errors: dict[str, str]) -> str | None:
    if not raw.strip():
        return None
    try:
        return parse_phone(raw, default_region())
    except ValueError:
        errors["phone"] = "Please check the number (with the country code if not local)."
        return None


def _email(raw: str, errors: dict[str, str]) -> str | None:
    if not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        errors["email"] = "Please check the email address."
        return None


def check(form: dict[str, str], today: date) -> Checked:
    errors: dict[str, str] = {}
    given, family = _name(form, "given_name", errors), _name(form, "family_name", errors)
    born = _birth_date(form.get("date_of_birth", ""), today, errors)
    phone, email = _phone(form.get("phone", ""), errors), _email(form.get("email", ""), errors)
    channel = form.get("channel", "")
    sms_consent, email_consent = bool(form.get("sms_consent")), bool(form.get("email_consent"))
    if channel not in ("sms", "email"):
        errors["channel"] = "Choose text message or email."
    elif channel == "sms" and not phone and "phone" not in errors:
        errors["phone"] = "We need your mobile number to text you the code."
    elif channel == "email" and not email and "email" not in errors:
        errors["email"] = "We need your email address to send you the code."
    if channel == "sms" and not sms_consent:
        errors["consent"] = "Tick the box for text messages, or choose email."
    if channel == "email" and not email_consent:
        errors["consent"] = "Tick the box for emails, or choose text message."
    honeypot = bool(form.get(HONEYPOT, "").strip())
    if errors or born is None:
        return Checked(None, errors, honeypot)
    return Checked(
        Applicant(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            phone=phone,
            email=email,
            channel=channel,
            sms_consent=sms_consent,
            email_consent=email_consent,
        ),
        honeypot=honeypot,
    )
