"""Pure rendering: Markdown to safe HTML and text, themed templates, CSS inlining, MIME bytes."""
