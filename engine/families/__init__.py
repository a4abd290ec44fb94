"""Model families: the code of each together, and one table that shared code asks."""
