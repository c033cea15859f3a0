"""Yikou queue server: the hall engine, storage, server and client library."""
