"""Domain logic. Services take the actor and `now` as arguments, flush but never commit, and raise
DomainError subclasses with stable codes. They never read request, session or current_user."""
