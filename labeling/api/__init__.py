"""The REST API: one small view per operation over the same services as the pages and admin.

No business logic lives here: views check access (permissions.py), validate an input
serializer, call a service or selector, and return an output serializer.
"""
