"""python -m configurations: print the knob table (docs/faithfulness.md holds this output)."""
from . import markdown_table

print(markdown_table())
