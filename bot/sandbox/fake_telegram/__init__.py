"""A fake Telegram Bot API server for the tests and the local sandbox, split by job: server.py (the
HTTP routes, the bot's side of the API and FakeBotAPI, which composes the rest), rules.py
(Telegram's rules and limits), people.py (the simulated users), faults.py (fault injection) and
records.py (what the server records and hands to tests).
"""
