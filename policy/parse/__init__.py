"""Reading files with positions: strict YAML for rules and cases, strict CSV for tables."""
