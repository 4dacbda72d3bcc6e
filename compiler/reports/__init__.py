"""What commands print: `report` (the value every format takes), `render` (text, json,
github), `sarif` and `export` (the graph as json, mermaid and dot). Renderers are pure;
they may import `compiler.model`, `compiler.diagnostics` and `compiler.lock`.
"""
