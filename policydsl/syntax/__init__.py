"""The text of a policy: keywords, the parser and its tables, the AST, the formatter."""
