"""Rule-based recognizers, one module per family of identifiers."""
