"""The books: where money moves (``movements``) and how the books are
checked (``audit``, ``manage.py audit_ledger``). No models of its own:
it writes the accounts' and the orders' tables."""
