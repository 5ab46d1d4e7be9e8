"""Errors of the alerts package (digests, outbox, delivery).

monitor.exceptions.MonitorError
└── AlertError
    ├── DeliveryError: one digest could not be handed to the mail server or folder
    │   ├── TemporaryDeliveryError: retried later with backoff (4xx, refused, timeout, disconnect)
    │   │   └── TransportDownError: the server cannot be reached; the other due digests wait
    │   └── PermanentDeliveryError: refused for good (5xx for this recipient or message)
    ├── DigestNotFound (also LookupError, ValueError): ``outbox retry ID`` names no
    │   pending or failed digest
    └── RecipientError (also ValueError): ``--to`` names no recipient of the watchlist
"""

from __future__ import annotations

from monitor.exceptions import MonitorError


class AlertError(MonitorError):
    """Base of the alerts package's errors."""


class DeliveryError(AlertError):
    """A digest could not be delivered; the message says what the server or system answered."""


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later: the digest stays pending and is retried with backoff."""


class TransportDownError(TemporaryDeliveryError):
    """The mail server cannot be reached: every digest of the batch waits for the next try."""


class PermanentDeliveryError(DeliveryError):
    """Refused for good for this recipient or message: the digest is marked failed."""


class DigestNotFound(AlertError, LookupError, ValueError):
    """No digest in the outbox has that id, or it was already sent (bad input)."""


class RecipientError(AlertError, ValueError):
    """An address that is not a recipient of the chosen watchlist(s)."""
