"""The federation's year: seasonal rules that put a draft on the staff's desk on the right day."""
