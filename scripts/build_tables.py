"""Write policydsl/syntax/parser_tables.json, the parser tables of grammar/policy.lark (`make tables`)."""

from pathlib import Path

from policydsl.syntax.parser import TABLES, tables_source

target = Path(__file__).resolve().parent.parent / "policydsl" / "syntax" / TABLES
target.write_text(tables_source(), encoding="utf-8")
print(f"wrote {target}")
