"""Local stand-ins for the Telegram Bot API and the Slack Web API, served over real HTTP.

They follow each platform's documented behaviour and limits, so the real python-telegram-bot and
slack-bolt stacks run against them unchanged. The tests, the benchmarks and ``helpdesk demo`` use
them; the running desk never does.
"""
