"""Pure screens, one module per feature (the same names as bot/handlers): results in, Screen out.

Views import no services and never telegram or sqlalchemy; `bot.render` sends what they return.
"""
