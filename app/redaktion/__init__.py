"""Redaktionen, the staff web interface: its pages (Utskick, Prenumeranter, Händelselogg, …),
above every domain they use. Sign-in and sessions live in app.users; nothing imports these
modules but app.main."""
