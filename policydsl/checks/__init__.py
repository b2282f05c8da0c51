"""Checks over the AST: names, types and units first, then the policy analyses."""
