"""Nyhetsbrev: newsletter subscriptions and mailing for Swedish samordningsförbund."""
