"""Local stand-ins for the outside world: an SMTP server and an SMS provider."""
