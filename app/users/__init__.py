"""Staff people: accounts, federation roles, passwordless sign-in and sessions."""
