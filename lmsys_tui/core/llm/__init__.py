"""The LLM layer: instructor clients, the call ledger, rate limits, and the offline summariser.

Nothing here imports an SDK at module level; `clients.make_client` does, when a pass needs one.
"""
