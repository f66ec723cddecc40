"""The LLM layer: instructor clients, the call ledger, rate limits, and the offline summariser.

Modules: `providers` (model strings, keys, SDK clients), `clients` (the session every call takes),
`ledger` (every attempt, and the cache), `limits` (rpm, concurrency, retries), `offline`.
Nothing here imports an SDK at module level; `providers.make_client` does, when a pass needs one.
"""
