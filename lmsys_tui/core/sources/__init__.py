"""Dataset readers. Each yields `Conversation` or `BadRow` items; the load stage stores them."""
