"""Groups beyond the tree (a party branch 党支部, a volunteer association, a school) and their rankings."""
