"""Importing projects made in the desktop app (dyad and its fork) into MoreMinimore.

The desktop app keeps its chats in a SQLite file and each app's history in a git repository;
each is read by its own module here (``desktop_db`` for the SQLite file) so that reading the
user's upload stays free of database and HTTP work and can be tested on its own.
"""
