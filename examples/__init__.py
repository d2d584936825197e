"""Runnable examples of consuming ticketstream's topics downstream."""
