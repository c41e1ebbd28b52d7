"""The web app's parts that are not the page itself. ``exposure.py``: who may reach the app and
what a request may carry (log-in, trusted Host names, request and upload size)."""
