"""Getting papers in: parsing dumps and feeds, identifying papers, storing them."""
