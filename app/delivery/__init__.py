"""The outbox: fan-out, claiming, the Mailer port, SMTP adapter, failure classes, rate limits."""
