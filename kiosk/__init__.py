"""Kivy app for the self-service form-filling machines (自助填表机)."""
