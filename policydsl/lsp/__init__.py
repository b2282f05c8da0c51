"""The language server (`policydsl lsp`): what an editor asks of a policy, answered from the front end,
the checks and the analysis (features.py, plain functions over text), over the protocol (server.py)."""
