"""负向扣分: the office's deductions under catalogue items, what is owed, and what they do to rankings and stars."""
