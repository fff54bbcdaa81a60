"""fixity room."""
