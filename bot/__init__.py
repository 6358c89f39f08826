"""The running bot: settings, wiring, CLI and the platform adapters."""

import os

# python-telegram-bot 22 reads this on every access to a time period (RetryAfter.retry_after,
# ...): "true" gives the timedelta that v23 will always give, instead of seconds and a
# deprecation warning. The adapters read those periods as timedeltas.
os.environ["PTB_TIMEDELTA"] = "true"
