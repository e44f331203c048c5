"""An email backend for the worker-kill test: writes each message to TEST_EMAIL_DIR, then
takes its time, so that the test can kill the worker after the send and before the commit."""

import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend

PAUSE = 30.0


class SlowFileBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(os.environ["TEST_EMAIL_DIR"])
        for message in email_messages:
            (folder / f"{uuid.uuid4().hex}.eml").write_bytes(message.message().as_bytes())
        time.sleep(PAUSE)
        return len(email_messages)
