"""Images a federation uploads: photos for letters, header photos and logos."""
