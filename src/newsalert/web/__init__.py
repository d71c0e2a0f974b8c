"""The web console and the feedback pages (Starlette + Jinja2, served by uvicorn).

``create_app(loaded, store)`` builds the application; ``serve`` runs it. Imported
only by ``newsalert web`` and ``newsalert run``: the rest of newsalert never needs it.
"""
